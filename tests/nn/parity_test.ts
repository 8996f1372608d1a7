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
import { gpuTest } from "../helpers/gpu_test.ts";
import {
  compareToReference,
  firstQueryRows,
  MODEL_FIXTURES,
  patternImages,
  readAndCompare,
} from "../helpers/parity.ts";

interface Case {
  name: string;
  weights: string;
  batch: number;
  size: number;
  heads: number;
  arch: "vit" | "mixer";
  queries: number;
}

const manifest = JSON.parse(await Deno.readTextFile(`${MODEL_FIXTURES}manifest.json`)) as {
  cases: Case[];
};

for (const entry of manifest.cases) {
  gpuTest(`parity: ${entry.name}`, async () => {
    const { model, layout } = await loadModel(`${MODEL_FIXTURES}${entry.weights}`, {
      heads: entry.heads,
    });
    assert(
      (entry.arch === "mixer") === !(model instanceof VisionTransformer),
      `${entry.name}: loaded a ${layout} model`,
    );
    const reference =
      (await readSafetensorsFile(`${MODEL_FIXTURES}${entry.name}.expected.safetensors`))
        .tensors;
    const images = patternImages(entry.batch, entry.size);
    await readAndCompare(
      `${entry.name} features`,
      batchFeatures(model, images),
      reference.get("features")!,
    );
    if (model instanceof VisionTransformer) {
      const rows = noGrad(() => model.lastSelfAttention(images));
      const picked = firstQueryRows(await rows.read() as Float32Array, rows.shape, entry.queries);
      rows.dispose();
      compareToReference(
        `${entry.name} attention`,
        picked,
        toFloat32(reference.get("attention")!),
      );
    }
    images.dispose();
    model.dispose();
  });
}
