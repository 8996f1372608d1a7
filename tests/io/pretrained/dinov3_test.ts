/**
 * DINOv3 weights: both layouts recognised and mapped (storage tokens, masked qkv bias, SwiGLU,
 * q/k/v/o, stored periods), and bad files refused with errors naming the file and the keys: a
 * missing RoPE buffer, mismatched shapes, unknown keys, half a SwiGLU pair, a wrong activation;
 * image sizes that are not multiples of the patch refused by the model.
 */
import { assertEquals, assertRejects, assertThrows, assertTrue } from "../../helpers/assert.ts";
import { inferDinov3Config, mapDinov3Keys } from "../../../src/io/pretrained/dinov3.ts";
import { detectLayout } from "../../../src/io/pretrained/layouts.ts";
import { loadModel, loadModelFromState } from "../../../src/io/pretrained/load.ts";
import { readCheckpoint } from "../../../src/io/pretrained/read.ts";
import { loadModelFile, modelFileMetadata } from "../../../src/io/pretrained/model_file.ts";
import { CheckpointError, writeSafetensors } from "../../../src/io/safetensors.ts";
import { ShapeError } from "../../../src/gpu/errors.ts";
import { type HostTensor, toFloat32 } from "../../../src/tensor/host.ts";
import type { VisionTransformer } from "../../../src/nn/vit.ts";
import { noGrad } from "../../../src/tensor/tape.ts";
import { tensor, zeros } from "../../../src/tensor/tensor.ts";
import { gpuTest } from "../../helpers/gpu_test.ts";

const FIXTURES = new URL("../../fixtures/models/dinov3/", import.meta.url).pathname;
const PTH = `${FIXTURES}dinov3_swiglu.pth`;

async function official(): Promise<Map<string, HostTensor>> {
  return (await readCheckpoint(PTH)).state;
}

function load(state: Map<string, HostTensor>, config?: Record<string, unknown>, heads?: number) {
  return loadModelFromState(state, { file: "broken.pth", config, heads });
}

Deno.test("dinov3: layouts, key maps and the configuration read from the files", async () => {
  const state = await official();
  assertEquals(detectLayout(state), "dinov3");
  assertEquals(state.get("rope_embed.periods")!.dtype, "BF16");
  const mapped = mapDinov3Keys(state, "dinov3", PTH);
  assertTrue(mapped.state.has("register_tokens") && !mapped.state.has("storage_tokens"), "storage");
  assertEquals(mapped.state.get("blocks.0.mlp.w12.weight")!.shape, [128, 24]);
  assertTrue(!mapped.state.has("blocks.0.attn.qkv.bias_mask"), "the mask is applied, not kept");
  const raw = toFloat32(state.get("blocks.1.attn.qkv.bias")!);
  const mask = toFloat32(state.get("blocks.1.attn.qkv.bias_mask")!);
  const masked = toFloat32(mapped.state.get("blocks.1.attn.qkv.bias")!);
  raw.forEach((value, i) => assertEquals(masked[i], Math.fround(value * mask[i]), `bias ${i}`));
  assertEquals(mapped.periods, [1, 4.65625, 21.5]); // bf16 values of 100 ** [0, 1/3, 2/3]
  const config = inferDinov3Config(mapped, { file: PTH });
  assertEquals(
    [config.heads, config.registers, config.feedForward, config.feedForwardHidden, config.eps],
    [2, 4, "swiglu", 64, 1e-5],
  );
  const hf = await readCheckpoint(`${FIXTURES}hf_dinov3_gelu`);
  assertEquals(detectLayout(hf.state, hf.config), "hf-dinov3");
  const hfMapped = mapDinov3Keys(hf.state, "hf-dinov3");
  const keyBias = toFloat32(hfMapped.state.get("blocks.0.attn.qkv.bias")!).subarray(24, 48);
  assertTrue(keyBias.every((value) => value === 0), "no key bias in HF: zero");
  assertEquals(hfMapped.periods, undefined);
  const hfConfig = inferDinov3Config(hfMapped, {}, hf.config);
  assertEquals([hfConfig.heads, hfConfig.feedForward, hfConfig.ropeBase], [2, "mlp", 100]);
});

gpuTest("dinov3: a file without its RoPE periods is refused, naming file and buffer", async () => {
  const state = await official();
  state.delete("rope_embed.periods");
  assertThrows(() => load(state), CheckpointError, "broken.pth: a DINOv3 checkpoint without");
  assertThrows(() => load(state), CheckpointError, "rope_embed.periods");
  const wrong = await official();
  wrong.set("rope_embed.periods", { dtype: "F32", shape: [2], data: new Float32Array([1, 10]) });
  assertThrows(
    () => load(wrong, undefined, 2),
    CheckpointError,
    "broken.pth: rope_embed.periods holds 2 periods, but 2 heads of width 24 (head size 12)",
  );
});

gpuTest("dinov3: mismatched shapes and unknown keys are listed with the file", async () => {
  const state = await official();
  state.set("blocks.1.attn.qkv.bias_mask", {
    dtype: "F32",
    shape: [48],
    data: new Float32Array(48),
  });
  assertThrows(
    () => load(state),
    CheckpointError,
    "blocks.1.attn.qkv.bias_mask [48] does not match",
  );
  const narrow = await official();
  const proj = narrow.get("blocks.0.attn.proj.weight")!;
  narrow.set("blocks.0.attn.proj.weight", {
    ...proj,
    shape: [24, 23],
    data: proj.data.subarray(0, 24 * 23),
  });
  assertThrows(() => load(narrow), CheckpointError, "broken.pth: Cannot load state dict");
  assertThrows(
    () => load(narrow),
    CheckpointError,
    "blocks.0.attn.proj.weight: checkpoint [24, 23]",
  );
  const extra = await official();
  extra.set("blocks.0.attn.extra", { dtype: "F32", shape: [1], data: new Float32Array(1) });
  assertThrows(() => load(extra), CheckpointError, "unexpected keys: blocks.0.attn.extra");
  const half = await official();
  half.delete("blocks.1.mlp.w2.weight");
  assertThrows(() => load(half), CheckpointError, "blocks.1.mlp.w1.weight and blocks.1.mlp.w2");
  const hf = await readCheckpoint(`${FIXTURES}hf_dinov3_gelu`);
  assertThrows(
    () => load(hf.state, { ...hf.config, hidden_act: "relu" }),
    CheckpointError,
    'hidden_act "relu"',
  );
  const norm = hf.state.get("layer.0.norm1.weight")!;
  hf.state.set("layer.0.norm1.weight", { ...norm, shape: [23], data: norm.data.subarray(0, 23) });
  assertThrows(
    () => load(hf.state, hf.config),
    CheckpointError,
    "blocks.0.norm1.weight (layer.0.norm1.weight in the file): checkpoint [23], model [24]",
  );
  hf.state.delete("layer.1.attention.k_proj.weight");
  assertThrows(() => load(hf.state, hf.config), CheckpointError, "missing k");
});

gpuTest(
  "dinov3: image sides that are not multiples of 16 are refused, naming the size",
  async () => {
    const { model } = await loadModel(PTH);
    const vit = model as VisionTransformer;
    using images = zeros([1, 3, 40, 64]);
    assertThrows(
      () => noGrad(() => vit.forward(images)),
      ShapeError,
      "multiples of the patch 16, got height 40 x width 64",
    );
    // every multiple of 16, square or not, runs without interpolation
    using wide = zeros([1, 3, 16, 80]);
    const out = noGrad(() => vit.forward(wide));
    assertEquals(out.patches.shape, [1, 5, 24]);
    out.cls.dispose();
    out.patches.dispose();
    model.dispose();
    await assertRejects(() => loadModel(`${FIXTURES}missing.pth`), CheckpointError, "missing.pth");
  },
);

gpuTest(
  "dinov3: a loaded model saved as a dinogpu file reloads with its stored periods",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const { model } = await loadModel(PTH);
      const vit = model as VisionTransformer;
      const file = `${dir}/v3.safetensors`;
      await Deno.writeFile(file, writeSafetensors(await vit.stateDict(), modelFileMetadata(vit)));
      const again = (await loadModelFile(file)).model as VisionTransformer;
      assertEquals(again.config.ropePeriods, [1, 4.65625, 21.5]);
      using images = tensor(new Float32Array(3 * 32 * 48).map((_, i) => Math.sin(i)), [
        1,
        3,
        32,
        48,
      ]);
      const [a, b] = noGrad(() => [vit.forward(images), again.forward(images)]);
      const [x, y] = [await a.cls.read(), await b.cls.read()];
      x.forEach((value, i) => assertEquals(value, y[i], `cls ${i}`));
      for (const out of [a, b]) for (const t of [out.cls, out.patches]) t.dispose();
      model.dispose();
      again.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
