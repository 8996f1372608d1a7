/**
 * Parity with PyTorch: the checkpoints in tests/fixtures/models (written by
 * tools/make_model_fixtures.py with re-implementations of the official forward code) load through
 * `loadModel` and give the same features and last-block attention rows within
 * max |diff| <= 1e-4 x max |reference|.
 */
import { assertTrue as assert } from "../helpers/assert.ts";
import { readSafetensorsFile } from "../../src/io/safetensors.ts";
import { toFloat32 } from "../../src/tensor/host.ts";
import { loadModel } from "../../src/io/pretrained/load.ts";
import { batchFeatures } from "../../src/eval/features.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import { noGrad } from "../../src/tensor/tape.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

const FIXTURES = new URL("../fixtures/models/", import.meta.url).pathname;

interface Case {
  name: string;
  weights: string;
  batch: number;
  size: number;
  heads: number;
  arch: "vit" | "mixer";
  queries: number;
}

/** The closed-form input of make_model_fixtures.py's `pattern` [B, 3, size, size]. */
function pattern(batch: number, size: number): Float32Array {
  const out = new Float32Array(batch * 3 * size * size);
  let i = 0;
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < 3; c++) {
      for (let h = 0; h < size; h++) {
        for (let w = 0; w < size; w++) {
          out[i++] = Math.sin(0.11 * h + 0.07 * w + 1.3 * c + 0.5 * b) +
            0.5 * Math.cos(0.013 * h * w / (1 + b) + 0.7 * c);
        }
      }
    }
  }
  return out;
}

function compare(what: string, actual: Float32Array, expected: Float32Array): void {
  assert(
    actual.length === expected.length,
    `${what}: ${actual.length} vs ${expected.length} values`,
  );
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  assert(scale > 0, `${what}: reference is all zeros`);
  assert(
    worst <= 1e-4 * scale,
    `${what}: max |diff| ${worst.toExponential(3)} > 1e-4 x max |ref| ${scale.toExponential(3)}`,
  );
}

const manifest = JSON.parse(await Deno.readTextFile(`${FIXTURES}manifest.json`)) as {
  cases: Case[];
};

for (const entry of manifest.cases) {
  gpuTest(`parity: ${entry.name}`, async () => {
    const { model, layout } = await loadModel(`${FIXTURES}${entry.weights}`, {
      heads: entry.heads,
    });
    assert(
      (entry.arch === "mixer") === !(model instanceof VisionTransformer),
      `${entry.name}: loaded a ${layout} model`,
    );
    const reference = (await readSafetensorsFile(`${FIXTURES}${entry.name}.expected.safetensors`))
      .tensors;
    const images = tensor(pattern(entry.batch, entry.size), [
      entry.batch,
      3,
      entry.size,
      entry.size,
    ]);
    const features = batchFeatures(model, images);
    compare(
      `${entry.name} features`,
      await features.read() as Float32Array,
      toFloat32(reference.get("features")!),
    );
    features.dispose();
    if (model instanceof VisionTransformer) {
      const rows = noGrad(() => model.lastSelfAttention(images));
      const [batch, heads, tokens] = rows.shape;
      const all = await rows.read() as Float32Array;
      rows.dispose();
      const queries = entry.queries;
      const picked = new Float32Array(batch * heads * queries * tokens);
      for (let bh = 0; bh < batch * heads; bh++) {
        picked.set(
          all.subarray(bh * tokens * tokens, bh * tokens * tokens + queries * tokens),
          bh * queries * tokens,
        );
      }
      compare(`${entry.name} attention`, picked, toFloat32(reference.get("attention")!));
    }
    images.dispose();
    model.dispose();
  });
}
