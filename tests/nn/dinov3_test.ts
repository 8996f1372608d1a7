/**
 * DINOv3 parity with PyTorch: the checkpoints in tests/fixtures/models/dinov3 (official .pth and
 * transformers' DINOv3ViTModel folders, written by tools/make_dinov3_fixtures.py with
 * re-implementations of both forwards) load through `loadModel` and give the same CLS token,
 * storage tokens, mean patch token and last-block CLS attention per head, on a square and a
 * non-square image, within max |diff| <= 1e-4 x max |reference|. Also: the configuration sizes,
 * RoPE's periods and table against the official formulas.
 */
import { assertEquals, assertTrue as assert } from "../helpers/assert.ts";
import { readSafetensorsFile } from "../../src/io/safetensors.ts";
import { toFloat32 } from "../../src/tensor/host.ts";
import { loadModel } from "../../src/io/pretrained/load.ts";
import { DINOV3_SIZES, dinov3Config, dinov3SwigluHidden } from "../../src/nn/dinov3.ts";
import { ropePeriods, ropeTable } from "../../src/nn/rope.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import { mean, sumAll } from "../../src/ops/reduction/forward.ts";
import { backward } from "../../src/tensor/backward.ts";
import { clearTape, noGrad } from "../../src/tensor/tape.ts";
import { readAll, tensor } from "../../src/tensor/tensor.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { compareToReference, firstQueryRows, patternImages } from "../helpers/parity.ts";

const FIXTURES = new URL("../fixtures/models/dinov3/", import.meta.url).pathname;

interface Case {
  name: string;
  weights: string;
  layout: "official" | "hf";
  feedForward: "mlp" | "swiglu";
  batch: number;
  height: number;
  width: number;
  heads: number;
  storage: number;
}

const manifest = JSON.parse(await Deno.readTextFile(`${FIXTURES}manifest.json`)) as {
  cases: Case[];
};

for (const entry of manifest.cases) {
  gpuTest(`dinov3 parity: ${entry.name}`, async () => {
    const { model, layout } = await loadModel(`${FIXTURES}${entry.weights}`);
    assertEquals(layout, entry.layout === "hf" ? "hf-dinov3" : "dinov3");
    assert(model instanceof VisionTransformer, `${entry.name}: not a ViT`);
    const vit = model as VisionTransformer;
    assertEquals(vit.config.positionEmbedding, "rope");
    assertEquals(vit.config.heads, entry.heads);
    assertEquals(vit.config.registers, entry.storage);
    assertEquals(vit.config.feedForward, entry.feedForward);
    const reference = (await readSafetensorsFile(`${FIXTURES}${entry.name}.expected.safetensors`))
      .tensors;
    const { batch, height, width } = entry;
    const images = patternImages(batch, height, width);
    const { cls, registers, patches, meanPatch, rows } = noGrad(() => {
      const out = vit.forwardFeatures(images);
      return { ...out, meanPatch: mean(out.patches, 1), rows: vit.lastSelfAttention(images) };
    });
    assertEquals(patches.shape, [batch, (height / 16) * (width / 16), vit.config.embedDim]);
    const [clsHost, storageHost, meanHost, all] = await readAll([
      cls,
      registers!,
      meanPatch,
      rows,
    ]) as Float32Array[];
    const clsRows = firstQueryRows(all, rows.shape, 1);
    const report = [
      ["cls", clsHost, "cls"],
      ["storage", storageHost, "storage"],
      ["mean patch", meanHost, "mean_patch"],
      ["CLS attention", clsRows, "cls_attention"],
    ].map(([what, actual, key]) =>
      compareToReference(
        `${entry.name} ${what}`,
        actual as Float32Array,
        toFloat32(reference.get(key as string)!),
      )
    );
    console.log(
      `  ${entry.name}: ` +
        report.map(([worst, scale]) => `${worst.toExponential(2)}/${scale.toFixed(3)}`).join(" "),
    );
    for (const t of [cls, registers!, patches, meanPatch, rows, images]) t.dispose();
    model.dispose();
  });
}

Deno.test("dinov3: the official sizes and their SwiGLU widths", () => {
  // hidden widths of the released S+, L+, H+ and 7B (swiglu64) checkpoints
  assertEquals(dinov3SwigluHidden(384, 6), 1536);
  assertEquals(dinov3SwigluHidden(1024, 6), 4096);
  assertEquals(dinov3SwigluHidden(1280, 6), 5120);
  assertEquals(dinov3SwigluHidden(4096, 3, 64), 8192);
  assertEquals(dinov3SwigluHidden(24, 3.75), 64); // int(90 * 2 / 3) = 60, rounded up to 8
  const base = dinov3Config("base");
  assertEquals(
    [base.embedDim, base.depth, base.heads, base.feedForwardHidden, base.feedForward],
    [768, 12, 12, 3072, "mlp"],
  );
  assertEquals([base.patchSize, base.registers, base.eps, base.positionEmbedding], [
    16,
    4,
    1e-5,
    "rope",
  ]);
  const giant = dinov3Config("7b");
  assertEquals([giant.feedForwardHidden, giant.qkvBias], [8192, false]);
  assertEquals(Object.keys(DINOV3_SIZES).length, 7);
});

Deno.test("dinov3: RoPE periods and table follow the official formulas", () => {
  // base ** (2 i / (D / 2)) for D = 16: 100 ** [0, 0.25, 0.5, 0.75]
  const periods = ropePeriods(16);
  for (const [i, expected] of [1, 3.16227766, 10, 31.6227766].entries()) {
    assert(Math.abs(periods[i] - expected) < 1e-5 * expected, `period ${i}: ${periods[i]}`);
  }
  // grid 2 x 3: patch (y 1, x 2) has centre ((1.5 / 2) * 2 - 1, (2.5 / 3) * 2 - 1) = (0.5, 2 / 3)
  const table = ropeTable([1, 10], 2, 3);
  const at = (1 * 3 + 2) * 2 * 4;
  const angles = [0.5 / 1, 0.5 / 10, (2 / 3) / 1, (2 / 3) / 10].map((c) => 2 * Math.PI * c);
  for (let j = 0; j < 4; j++) {
    assert(Math.abs(table[at + j] - Math.cos(angles[j])) < 1e-6, `cos ${j}`);
    assert(Math.abs(table[at + 4 + j] - Math.sin(angles[j])) < 1e-6, `sin ${j}`);
  }
});

gpuTest(
  "dinov3: a model from dinov3Config runs backward through RoPE to every parameter",
  async () => {
    const vit = new VisionTransformer(
      dinov3Config("small", { embedDim: 16, depth: 1, heads: 2, feedForwardHidden: 32, seed: 4 }),
    );
    assertEquals(vit.namedParameters().some(([name]) => name === "pos_embed"), false);
    using images = tensor(new Float32Array(2 * 3 * 32 * 48).map((_, i) => Math.cos(i)), [
      2,
      3,
      32,
      48,
    ]);
    const out = vit.forward(images);
    using loss = sumAll(out.patches);
    backward(loss);
    const named = vit.namedParameters().filter(([name]) => name !== "mask_token");
    const grads = await readAll(named.map(([, value]) => value.grad!));
    named.forEach(([name], i) => {
      assert(grads[i].every(Number.isFinite), `${name}: gradient not finite`);
      assert(grads[i].some((v) => v !== 0), `${name}: zero gradient`);
    });
    clearTape();
    out.cls.dispose();
    out.patches.dispose();
    vit.dispose();
  },
);
