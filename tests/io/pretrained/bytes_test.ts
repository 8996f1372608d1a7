/**
 * Weights from bytes (src/io/pretrained/bytes.ts, the browser's way to load): every fixture format
 * gives the layout, width and head count expected and, built, the same parameters as `loadModel`
 * reading the same file from disk; the head count comes from config.json, the RoPE periods or a
 * dinogpu file, else is assumed from the width; files it cannot read give errors starting with
 * the file's name and saying what was wrong.
 */
import { assertEquals, assertRejects, assertThrows } from "../../helpers/assert.ts";
import { gpuTest } from "../../helpers/gpu_test.ts";
import {
  assumedHeads,
  modelFromWeights,
  parseConfigJson,
  readWeights,
  weightsFormat,
} from "../../../src/io/pretrained/bytes.ts";
import { loadModel } from "../../../src/io/pretrained/load.ts";
import { CheckpointError } from "../../../src/io/safetensors.ts";
import { toFloat32 } from "../../../src/tensor/host.ts";
import { MODEL_FIXTURES } from "../../helpers/parity.ts";

const SAMPLE = new URL("../../../examples/browser/sample.safetensors", import.meta.url).pathname;

/** A fixture: its weights (and config.json), and what reading it must say. */
const CASES: {
  path: string;
  config?: string;
  layout: string;
  arch: "vit" | "mixer";
  width: number;
  stored?: [number, string];
  format: "pth" | "safetensors";
}[] = [
  { path: "dino_vit16.pth", layout: "dino", arch: "vit", width: 32, format: "pth" },
  { path: "dinov2_vit14_reg4.pth", layout: "dinov2", arch: "vit", width: 32, format: "pth" },
  { path: "dino_training_checkpoint.pth", layout: "dino", arch: "vit", width: 32, format: "pth" },
  { path: "timm_mixer16.pth", layout: "timm-mixer", arch: "mixer", width: 32, format: "pth" },
  {
    path: "hf_vit16/model.safetensors",
    config: "hf_vit16/config.json",
    layout: "hf-vit",
    arch: "vit",
    width: 32,
    stored: [2, "config.json"],
    format: "safetensors",
  },
  {
    path: "hf_dinov2_14/model.safetensors",
    config: "hf_dinov2_14/config.json",
    layout: "hf-dinov2",
    arch: "vit",
    width: 32,
    stored: [2, "config.json"],
    format: "safetensors",
  },
  {
    path: "dinov3/dinov3_gelu.pth",
    layout: "dinov3",
    arch: "vit",
    width: 24,
    stored: [2, "RoPE periods"],
    format: "pth",
  },
  {
    path: "dinov3/hf_dinov3_swiglu/model.safetensors",
    config: "dinov3/hf_dinov3_swiglu/config.json",
    layout: "hf-dinov3",
    arch: "vit",
    width: 24,
    stored: [2, "config.json"],
    format: "safetensors",
  },
  {
    path: SAMPLE,
    layout: "dinogpu",
    arch: "vit",
    width: 24,
    stored: [2, "dinogpu file"],
    format: "safetensors",
  },
];

gpuTest("bytes: every fixture format reads and builds the model loadModel builds", async () => {
  for (const item of CASES) {
    const path = item.path.startsWith("/") ? item.path : MODEL_FIXTURES + item.path;
    const config = item.config
      ? parseConfigJson(await Deno.readTextFile(MODEL_FIXTURES + item.config))
      : undefined;
    const bytes = await Deno.readFile(path);
    assertEquals(weightsFormat(bytes), item.format, `${item.path}: format`);
    const weights = await readWeights(bytes, { name: "w", config });
    assertEquals(
      [weights.layout, weights.arch, weights.width, weights.format],
      [item.layout, item.arch, item.width, item.format],
      item.path,
    );
    const stored = weights.heads && [weights.heads.count, weights.heads.source as string];
    assertEquals(stored, item.stored, `${item.path}: stored heads`);
    const heads = item.stored?.[0] ?? (item.arch === "vit" ? 2 : undefined);
    const built = modelFromWeights(weights, item.stored ? {} : { heads });
    const reference = await loadModel(path.replace(/\/model\.safetensors$/, ""), { heads });
    try {
      assertEquals(built.layout, reference.layout, `${item.path}: layout`);
      assertEquals(built.kind, item.arch);
      if (item.arch === "vit") assertEquals(built.heads.count, 2, `${item.path}: heads`);
      const [ours, theirs] = [await built.model.stateDict(), await reference.model.stateDict()];
      assertEquals([...ours.keys()], [...theirs.keys()], `${item.path}: parameter names`);
      for (const [name, value] of ours) {
        assertEquals(toFloat32(value), toFloat32(theirs.get(name)!), `${item.path}: ${name}`);
      }
    } finally {
      built.model.dispose();
      reference.model.dispose();
    }
  }
});

gpuTest("bytes: the head count assumed where the file does not store it", async () => {
  assertEquals(assumedHeads(384), { count: 6, source: "width / 64" });
  assertEquals(assumedHeads(1536), { count: 24, source: "width / 64" });
  assertEquals(assumedHeads(32), { count: 2, source: "guess" });
  assertEquals(assumedHeads(24), { count: 1, source: "guess" });
  assertEquals(assumedHeads(8), { count: 1, source: "guess" });
  const weights = await readWeights(await Deno.readFile(MODEL_FIXTURES + "dino_vit16.pth"));
  assertEquals(weights.heads, undefined);
  const built = modelFromWeights(weights);
  assertEquals(built.heads, { count: 2, source: "guess" });
  built.model.dispose();
  const chosen = modelFromWeights(weights, { heads: 4 });
  assertEquals(chosen.heads, { count: 4, source: "option" });
  chosen.model.dispose();
});

Deno.test("bytes: files it cannot read say which and why", async () => {
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(), "x.bin: the file is empty"],
    [new TextEncoder().encode("<!doctype html>"), "x.bin: neither a safetensors file nor a torch"],
    [new Uint8Array([0x80, 2, 0x7d, 0x71]), "x.bin: pth: this is a bare pickle"],
    [(await Deno.readFile(MODEL_FIXTURES + "dino_vit16.pth")).subarray(0, 3000), "x.bin: zip:"],
    [new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 1, 2, 3, 4, 5, 6, 7]), "x.bin: safetensors:"],
  ];
  for (const [bytes, message] of cases) {
    await assertRejects(() => readWeights(bytes, { name: "x.bin" }), CheckpointError, message);
  }
  assertEquals(weightsFormat(new Uint8Array([0x50, 0x4b, 3, 4])), "pth");
  assertThrows(
    () => parseConfigJson("{", "config.json"),
    CheckpointError,
    "config.json: not valid",
  );
  assertThrows(() => parseConfigJson("[1]"), CheckpointError, "expected a JSON object");
});
