/**
 * Weighted k-NN (`knnClassify`, k = 20) of 512 queries against a 60000-row bank, the size of the
 * Fashion-MNIST train split, at feature sizes 64 (a small ViT's CLS token) and 784 (raw 28 x 28
 * pixels, split into two similarity chunks at lavapipe's binding limit). Each iteration includes
 * the upload and normalisation of the bank and reads the predictions back.
 * @module
 */
import { initGpu } from "../src/gpu/device.ts";
import { knnClassify } from "../src/eval/knn.ts";
import { randomValues } from "./random_values.ts";

await initGpu();

const BANK = 60000;
const QUERIES = 512;
for (const dim of [64, 784]) {
  const bank = randomValues(BANK * dim, 1);
  const queries = randomValues(QUERIES * dim, 2);
  const labels = Int32Array.from({ length: BANK }, (_, i) => i % 10);
  const queryLabels = Int32Array.from({ length: QUERIES }, (_, i) => i % 10);
  Deno.bench(`knn ${BANK} bank x ${QUERIES} queries, dim ${dim}`, { n: 2, warmup: 1 }, async () => {
    await knnClassify(
      { features: bank, dim, labels },
      { features: queries, dim, labels: queryLabels },
      { k: 20, classes: 10 },
    );
  });
}
