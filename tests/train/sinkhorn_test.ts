// Sinkhorn-Knopp teacher normalisation against a float64 transcription of DINOv2's
// sinkhorn_knopp_teacher (exp, transpose, divide by the total, then rows / columns).
import { ShapeError } from "../../src/gpu/errors.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { rowEntropy, sinkhornKnopp } from "../../src/train/sinkhorn.ts";
import { assertThrows, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { assertClose, checkOp } from "../helpers/op_check.ts";

/** DINOv2's algorithm literally, in float64: Q is [K, B]. */
function sinkhornReference(
  logits: Float64Array,
  B: number,
  K: number,
  temperature: number,
  iterations: number,
): Float64Array {
  const q = new Float64Array(K * B); // q[k * B + b]
  let total = 0;
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      const value = Math.exp(logits[b * K + k] / temperature);
      q[k * B + b] = value;
      total += value;
    }
  }
  for (let i = 0; i < q.length; i++) q[i] /= total;
  for (let it = 0; it < iterations; it++) {
    for (let k = 0; k < K; k++) {
      let sum = 0;
      for (let b = 0; b < B; b++) sum += q[k * B + b];
      for (let b = 0; b < B; b++) q[k * B + b] /= sum * K;
    }
    for (let b = 0; b < B; b++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += q[k * B + b];
      for (let k = 0; k < K; k++) q[k * B + b] /= sum * B;
    }
  }
  const out = new Float64Array(B * K);
  for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) out[b * K + k] = q[k * B + b] * B;
  return out;
}

for (
  const [B, K, temperature, iterations] of [
    [5, 7, 0.1, 3],
    [1, 3, 0.5, 3],
    [37, 300, 0.07, 3],
    [2, 1, 0.1, 1],
    [130, 2100, 0.05, 3],
  ] as const
) {
  gpuTest(
    `sinkhorn: [${B}, ${K}] at temperature ${temperature}, ${iterations} iterations`,
    () =>
      checkOp({
        name: `sinkhornKnopp [${B}, ${K}]`,
        inputs: [{ shape: [B, K], grad: false }],
        gpu: (x) => sinkhornKnopp(x, temperature, iterations),
        reference: (x) => sinkhornReference(x, B, K, temperature, iterations),
        outputShape: [B, K],
        tolerance: { absolute: 1e-6, relative: 2e-4 },
        noGrad: true,
        seed: B * 31 + K,
      }),
  );
}

gpuTest("sinkhorn: rows sum to 1 and the prototypes are used about equally", async () => {
  const B = 16;
  const K = 8;
  // a collapsed teacher: every sample prefers prototype 0
  const values = Float32Array.from(
    { length: B * K },
    (_, i) => (i % K === 0 ? 3 : 0) + (i % 5) / 10,
  );
  const x = tensor(values, [B, K]);
  const q = sinkhornKnopp(x, 0.1);
  const result = (await q.read()) as Float32Array;
  const rowSums = Array.from(
    { length: B },
    (_, b) => result.slice(b * K, (b + 1) * K).reduce((s, v) => s + v, 0),
  );
  assertClose(rowSums, new Array(B).fill(1), "row sums", { absolute: 1e-5 });
  const columnSums = Array.from({ length: K }, (_, k) => {
    let s = 0;
    for (let b = 0; b < B; b++) s += result[b * K + k];
    return s;
  });
  // unlike a softmax, prototype 0 does not take everything
  assertTrue(columnSums[0] < 0.5 * B, `prototype 0 holds ${columnSums[0]} of ${B}`);
  x.dispose();
  q.dispose();
});

gpuTest("sinkhorn: bad shapes and temperatures are refused", () => {
  const x = tensor([1, 2, 3], [3]);
  assertThrows(() => sinkhornKnopp(x, 0.1), ShapeError, "logits must be [samples, prototypes]");
  const y = tensor([1, 2], [1, 2]);
  assertThrows(() => sinkhornKnopp(y, 0), ShapeError, "temperature must be");
  x.dispose();
  y.dispose();
});

gpuTest("sinkhorn: row entropy against float64", () =>
  checkOp({
    name: "rowEntropy [9, 70]",
    inputs: [{ shape: [9, 70], draw: "positive", grad: false }],
    gpu: (x) => rowEntropy(x),
    reference: (x) => {
      const out = new Float64Array(9);
      for (let r = 0; r < 9; r++) {
        for (let k = 0; k < 70; k++) out[r] -= x[r * 70 + k] * Math.log(x[r * 70 + k]);
      }
      return out;
    },
    outputShape: [9],
    tolerance: { absolute: 1e-4, relative: 1e-4 },
    noGrad: true,
  }));
