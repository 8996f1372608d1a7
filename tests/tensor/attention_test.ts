import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import {
  attention,
  attentionProbabilities,
  attentionReference,
} from "../../src/tensor/ops/attention.ts";
import { clearTape, tapeNodes } from "../../src/tensor/tape.ts";
import { liveTensorCount, readAll, type Shape, tensor } from "../../src/tensor/tensor.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { assertClose, checkOp } from "../helpers/op_check.ts";
import { Random } from "../helpers/random.ts";

/** float64 softmax(q k^T * scale) over keys, [B*H, N, N] flat. */
function referenceProbabilities(
  q: Float64Array,
  k: Float64Array,
  shape: Shape,
  scale = 1 / Math.sqrt(shape[3]),
): Float64Array {
  const [batch, heads, n, d] = shape;
  const result = new Float64Array(batch * heads * n * n);
  const row = new Float64Array(n);
  for (let h = 0; h < batch * heads; h++) {
    for (let i = 0; i < n; i++) {
      let largest = -Infinity;
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let c = 0; c < d; c++) sum += q[(h * n + i) * d + c] * k[(h * n + j) * d + c];
        row[j] = sum * scale;
        largest = Math.max(largest, row[j]);
      }
      let total = 0;
      for (let j = 0; j < n; j++) total += row[j] = Math.exp(row[j] - largest);
      for (let j = 0; j < n; j++) result[(h * n + i) * n + j] = row[j] / total;
    }
  }
  return result;
}

/** float64 softmax(q k^T * scale) v, flat [B, H, N, D]. */
function referenceAttention(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  shape: Shape,
  scale?: number,
): Float64Array {
  const [batch, heads, n, d] = shape;
  const probabilities = referenceProbabilities(q, k, shape, scale);
  const result = new Float64Array(batch * heads * n * d);
  for (let h = 0; h < batch * heads; h++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const p = probabilities[(h * n + i) * n + j];
        for (let c = 0; c < d; c++) result[(h * n + i) * d + c] += p * v[(h * n + j) * d + c];
      }
    }
  }
  return result;
}

function attentionCase(shape: Shape, options: { scale?: number; grad?: boolean; seed?: number }) {
  return checkOp({
    name: `attention ${JSON.stringify(shape)}${options.scale ? ` scale ${options.scale}` : ""}`,
    inputs: [{ shape }, { shape }, { shape }],
    gpu: (q, k, v) => attention(q, k, v, { scale: options.scale }),
    reference: (q, k, v) => referenceAttention(q, k, v, shape, options.scale),
    outputShape: shape,
    noGrad: options.grad === false,
    seed: options.seed,
  });
}

gpuTest("attention: forward and gradients on small shapes", async () => {
  await attentionCase([1, 1, 1, 1], {});
  await attentionCase([1, 1, 2, 3], { seed: 3 });
  await attentionCase([1, 2, 7, 5], { seed: 11 }); // D not a multiple of 4
  await attentionCase([2, 3, 9, 8], { seed: 5 });
});

gpuTest("attention: gradients across key tiles and row blocks, custom scale", async () => {
  await attentionCase([1, 1, 70, 6], { seed: 21 }); // > 64 rows and > 2 key tiles of 32
  await attentionCase([1, 2, 33, 7], { scale: 0.3, seed: 22 });
  await attentionCase([1, 1, 20, 37], { seed: 23 }); // padded to 64 columns
});

gpuTest("attention: gradients at a head size past 64 (key tile 16)", async () => {
  await attentionCase([1, 1, 19, 101], { seed: 24 });
});

gpuTest("attention: larger batch", async () => {
  await attentionCase([8, 3, 5, 4], { seed: 31 });
});

gpuTest("attention: forward at ViT sizes (odd N, D = 64) and the largest head size", async () => {
  await attentionCase([1, 2, 33, 64], { grad: false, seed: 41 });
  await attentionCase([1, 2, 197, 64], { grad: false, seed: 42 });
  await attentionCase([1, 1, 50, 128], { grad: false, seed: 43 }); // key tile 16
  await attentionCase([1, 1, 17, 101], { grad: false, seed: 44 });
});

gpuTest("attention: large scores stay finite (online softmax rescaling)", async () => {
  await attentionCase([1, 1, 40, 8], { scale: 30, grad: false, seed: 51 });
});

gpuTest("attention: fused matches the unfused reference path at N = 197, D = 64", async () => {
  const shape = [2, 3, 197, 64];
  const random = new Random(61);
  const size = 2 * 3 * 197 * 64;
  const q = tensor(random.normals(size), shape);
  const k = tensor(random.normals(size), shape);
  const v = tensor(random.normals(size), shape);
  const fused = attention(q, k, v);
  const plain = attentionReference(q, k, v);
  const [fusedValues, plainValues] = await readAll([fused, plain]);
  assertClose(fusedValues, plainValues, "fused vs reference", { absolute: 1e-6, relative: 1e-5 });
  for (const t of [q, k, v, fused, plain]) t.dispose();
});

gpuTest("attention: probabilities and the reference path against float64", async () => {
  const shape = [2, 2, 13, 6];
  const random = new Random(71);
  const size = 2 * 2 * 13 * 6;
  const hostQ = Float64Array.from(Float32Array.from(random.normals(size)));
  const hostK = Float64Array.from(Float32Array.from(random.normals(size)));
  const hostV = Float64Array.from(Float32Array.from(random.normals(size)));
  const q = tensor(hostQ, shape);
  const k = tensor(hostK, shape);
  const v = tensor(hostV, shape);
  const probabilities = attentionProbabilities(q, k, 0.5);
  const plain = attentionReference(q, k, v);
  assertEquals(probabilities.shape, [2, 2, 13, 13]);
  const [probabilityValues, plainValues] = await readAll([probabilities, plain]);
  assertClose(probabilityValues, referenceProbabilities(hostQ, hostK, shape, 0.5), "probabilities");
  assertClose(plainValues, referenceAttention(hostQ, hostK, hostV, shape), "reference path");
  for (const t of [q, k, v, probabilities, plain]) t.dispose();
});

gpuTest("attention: recorded on the tape with its scale; reference ops are not", () => {
  const shape = [1, 1, 3, 4];
  const q = tensor(new Float32Array(12).fill(0.5), shape);
  q.requiresGrad = true;
  const before = tapeNodes().length;
  const plain = attentionReference(q, q, q);
  const probabilities = attentionProbabilities(q, q);
  assertEquals(tapeNodes().length, before);
  const out = attention(q, q, q, { scale: 0.25 });
  const node = tapeNodes().at(-1)!;
  assertEquals(node.op, "attention");
  assertEquals(node.attributes, { scale: 0.25 });
  assertTrue(out.requiresGrad);
  clearTape();
  for (const t of [q, plain, probabilities, out]) t.dispose();
});

gpuTest("attention: bad inputs are refused with the shapes", () => {
  const live = liveTensorCount();
  const a = tensor(new Float32Array(24), [1, 2, 3, 4]);
  const b = tensor(new Float32Array(24), [1, 2, 4, 3]);
  const flat = tensor(new Float32Array(24), [2, 3, 4]);
  const wide = tensor(new Float32Array(129), [1, 1, 1, 129]);
  assertThrows(
    () => attention(a, b, a),
    ShapeError,
    "attention: shapes differ: q [1, 2, 3, 4] vs k [1, 2, 4, 3]",
  );
  assertThrows(() => attention(a, a, b), ShapeError, "q [1, 2, 3, 4] vs v [1, 2, 4, 3]");
  assertThrows(() => attention(flat, flat, flat), ShapeError, "q must have rank 4");
  assertThrows(() => attentionReference(a, a, flat), ShapeError, "v must have rank 4");
  assertThrows(() => attentionProbabilities(a, b), ShapeError, "shapes differ");
  assertThrows(() => attention(wide, wide, wide), ShapeError, "head size must be 1..128, got 129");
  assertThrows(() => attention(a, a, a, { scale: NaN }), ShapeError, "scale must be a finite");
  for (const t of [a, b, flat, wide]) t.dispose();
  assertEquals(liveTensorCount(), live); // nothing allocated before the errors
});
