import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { backward } from "../../src/tensor/backward.ts";
import {
  attention,
  attentionProbabilities,
  attentionReference,
  selfAttention,
  selfAttentionProbabilities,
} from "../../src/ops/attention/forward.ts";
import { permute, reshape, split } from "../../src/ops/shape/forward.ts";
import { clearTape, tapeNodes } from "../../src/tensor/tape.ts";
import { liveTensorCount, readAll, type Tensor, tensor } from "../../src/tensor/tensor.ts";
import { attentionVariant } from "../../src/ops/attention/choice.ts";
import { subgroupAttentionSupported } from "../../src/ops/attention/team_launch.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { assertClose } from "../helpers/op_check.ts";
import { Random } from "../helpers/random.ts";
import { attentionCase, selfAttentionCase, withKernels } from "../helpers/attention_cases.ts";
import {
  float64Attention,
  float64AttentionProbabilities,
  unpackQkv,
} from "../../src/ops/attention/reference.ts";

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
  assertClose(
    probabilityValues,
    float64AttentionProbabilities(hostQ, hostK, shape, 0.5),
    "probabilities",
  );
  assertClose(plainValues, float64Attention(hostQ, hostK, hostV, shape), "reference path");
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

gpuTest("selfAttention: forward and gradient of the packed qkv against float64", async () => {
  await selfAttentionCase([1, 1, 1, 1], {}); // size-1 axes
  await selfAttentionCase([2, 7, 3, 5], { seed: 81 }); // odd N, odd head size, odd D = 15
  await selfAttentionCase([1, 70, 2, 6], { scale: 0.4, seed: 82 }); // > 64 rows, > 2 key tiles
  await selfAttentionCase([6, 5, 2, 3], { seed: 83 }); // larger batch
});

gpuTest("selfAttention: forward at a ViT size (N = 197, 6 heads of 64)", async () => {
  await selfAttentionCase([1, 197, 6, 64], { grad: false, seed: 84 });
});

/** The old path: qkv -> [B, N, 3, H, d] -> [3, B, H, N, d] -> q, k, v -> attention -> merge. */
function unfusedSelfAttention(qkv: Tensor, heads: number): Tensor {
  const [batch, tokens, width] = qkv.shape;
  const d = width / (3 * heads);
  const split5 = reshape(qkv, [batch, tokens, 3, heads, d]);
  const ordered = permute(split5, [2, 0, 3, 1, 4]);
  const parts = split(ordered, 0, [1, 1, 1]);
  const [q, k, v] = parts.map((part) => reshape(part, [batch, heads, tokens, d]));
  const attended = attention(q, k, v);
  const merged = permute(attended, [0, 2, 1, 3]);
  const result = reshape(merged, [batch, tokens, heads * d]);
  for (const t of [split5, ordered, ...parts, q, k, v, attended, merged]) t.dispose();
  return result;
}

gpuTest(
  "selfAttention: equals the reshape/permute/split path, forward, gradient, maps",
  async () => {
    const [batch, tokens, heads, d] = [2, 65, 3, 32]; // a DINO ViT (dim 96) on 65 tokens
    const shape = [batch, tokens, 3 * heads * d];
    const random = new Random(91);
    const size = batch * tokens * 3 * heads * d;
    const qkv = tensor(random.normals(size), shape);
    const gradOutput = tensor(random.normals(batch * tokens * heads * d), [
      batch,
      tokens,
      heads * d,
    ]);
    qkv.requiresGrad = true;
    const fused = selfAttention(qkv, heads);
    backward(fused, gradOutput);
    const fusedGrad = qkv.grad!;
    qkv.grad = undefined;
    const plain = unfusedSelfAttention(qkv, heads);
    backward(plain, gradOutput);
    const plainGrad = qkv.grad!;
    qkv.requiresGrad = false;
    const maps = selfAttentionProbabilities(qkv, heads);
    const parts = split(permute(reshape(qkv, [batch, tokens, 3, heads, d]), [2, 0, 3, 1, 4]), 0, [
      1,
      1,
      1,
    ]);
    const q = reshape(parts[0], [batch, heads, tokens, d]);
    const k = reshape(parts[1], [batch, heads, tokens, d]);
    const plainMaps = attentionProbabilities(q, k);
    assertEquals(maps.shape, [batch, heads, tokens, tokens]);
    const values = await readAll([fused, plain, fusedGrad, plainGrad, maps, plainMaps]);
    const tight = { absolute: 1e-6, relative: 1e-5 };
    assertClose(values[0], values[1], "forward: fused vs permute path", tight);
    assertClose(values[2], values[3], "dqkv: fused vs permute path", tight);
    assertClose(values[4], values[5], "maps: packed vs q, k", tight);
    // every part of the gradient (dq, dk and dv of each head) was written
    assertTrue(values[2].every((value) => Number.isFinite(value)));
    for (const t of [qkv, gradOutput, fused, plain, fusedGrad, plainGrad, maps, plainMaps, q, k]) {
      t.dispose();
    }
    for (const t of parts) t.dispose();
  },
);

gpuTest("selfAttention: maps of a packed qkv against float64, with a scale", async () => {
  const [batch, tokens, heads, d] = [2, 9, 3, 5];
  const shape = [batch, tokens, 3 * heads * d];
  const host = Float64Array.from(Float32Array.from(new Random(92).normals(shape[0] * 9 * 45)));
  const qkv = tensor(host, shape);
  const maps = selfAttentionProbabilities(qkv, heads, 0.7);
  assertEquals(maps.shape, [batch, heads, tokens, tokens]);
  const [q, k] = unpackQkv(host, batch, tokens, heads, d);
  const expected = float64AttentionProbabilities(q, k, [batch, heads, tokens, d], 0.7);
  assertClose(await maps.read(), expected, "selfAttentionProbabilities");
  for (const t of [qkv, maps]) t.dispose();
});

gpuTest("selfAttention: recorded once with heads and scale; maps are not recorded", () => {
  const qkv = tensor(new Float32Array(2 * 3 * 12).fill(0.25), [2, 3, 12]);
  qkv.requiresGrad = true;
  const before = tapeNodes().length;
  const maps = selfAttentionProbabilities(qkv, 2);
  assertEquals(tapeNodes().length, before);
  const out = selfAttention(qkv, 2, { scale: 0.5 });
  assertEquals(tapeNodes().length, before + 1);
  const node = tapeNodes().at(-1)!;
  assertEquals(node.op, "selfAttention");
  assertEquals(node.attributes, { heads: 2, scale: 0.5 });
  assertEquals(node.inputs.length, 1);
  assertEquals(out.shape, [2, 3, 4]);
  clearTape();
  for (const t of [qkv, maps, out]) t.dispose();
});

gpuTest("selfAttention: bad inputs are refused with the shapes", () => {
  const live = liveTensorCount();
  const qkv = tensor(new Float32Array(2 * 3 * 12), [2, 3, 12]);
  const flat = tensor(new Float32Array(36), [3, 12]);
  const wide = tensor(new Float32Array(3 * 129), [1, 1, 3 * 129]);
  const integers = tensor(new Int32Array(36), [1, 3, 12], "i32");
  assertThrows(() => selfAttention(flat, 2), ShapeError, "qkv must have rank 3");
  assertThrows(
    () => selfAttention(qkv, 5),
    ShapeError,
    "selfAttention: last axis of qkv [2, 3, 12] must be 3 x heads x headSize, got 12 for 5 heads",
  );
  assertThrows(() => selfAttention(qkv, 0), ShapeError, "heads must be a whole number >= 1, got 0");
  assertThrows(() => selfAttention(qkv, 1.5), ShapeError, "got 1.5");
  assertThrows(() => selfAttention(integers, 2), ShapeError, "qkv must be f32");
  assertThrows(() => selfAttention(wide, 1), ShapeError, "head size must be 1..128, got 129");
  assertThrows(() => selfAttention(qkv, 2, { scale: Infinity }), ShapeError, "scale must be a");
  assertThrows(
    () => selfAttentionProbabilities(qkv, 8),
    ShapeError,
    "selfAttentionProbabilities: last axis of qkv [2, 3, 12]",
  );
  for (const t of [qkv, flat, wide, integers]) t.dispose();
  assertEquals(liveTensorCount(), live); // nothing allocated before the errors
});

gpuTest(
  "attention: blocked kernels across several key tiles (online softmax, tile 8)",
  async () => {
    await withKernels("blocked", 8, async () => {
      await attentionCase([1, 1, 1, 1], {}); // short sequences (auto gives them to rows)
      await attentionCase([1, 2, 7, 5], { seed: 100 });
      await attentionCase([1, 2, 29, 6], { seed: 101 }); // 4 tiles, the last one partial
      await attentionCase([2, 1, 19, 37], { scale: 2, seed: 102 });
      await attentionCase([1, 1, 40, 8], { scale: 30, grad: false, seed: 103 }); // large scores
      await selfAttentionCase([2, 21, 2, 5], { seed: 104 }); // packed gradient across tiles
    });
  },
);

/**
 * Runs attention forward and backward with the blocked, rows and shared_rows kernels; asserts they
 * agree.
 */
async function assertVariantsAgree(shape: number[], seed: number) {
  const random = new Random(seed);
  const size = shape.reduce((product, extent) => product * extent, 1);
  const inputs = [0, 1, 2].map(() => tensor(random.normals(size), shape));
  const gradOutput = tensor(random.normals(size), shape);
  const results: Tensor[] = [];
  const variants = ["blocked", "rows", "shared_rows"] as const;
  for (const variant of variants) {
    await withKernels(variant, 256, () => {
      for (const input of inputs) input.requiresGrad = true;
      const output = attention(inputs[0], inputs[1], inputs[2]);
      backward(output, gradOutput);
      results.push(output);
      for (const input of inputs) {
        results.push(input.grad!);
        input.grad = undefined;
        input.requiresGrad = false;
      }
      return Promise.resolve();
    });
  }
  const values = await readAll(results);
  const tight = { absolute: 1e-5, relative: 1e-4 };
  for (const [index, what] of ["output", "dq", "dk", "dv"].entries()) {
    for (const [other, variant] of variants.entries()) {
      if (other === 0) continue;
      assertClose(values[index], values[index + 4 * other], `blocked vs ${variant} ${what}`, tight);
    }
  }
  for (const t of [...inputs, gradOutput, ...results]) t.dispose();
}

gpuTest(
  "attention: blocked, rows and shared_rows kernels agree at N = 197, D = 64, forward and grads",
  () => assertVariantsAgree([1, 2, 197, 64], 121),
);

gpuTest(
  "attention: the rows and shared_rows kernels (short sequences) match float64, separate and packed",
  async () => {
    for (const variant of ["rows", "shared_rows"] as const) {
      await withKernels(variant, 256, () => assertRowsKernelsMatch(variant));
    }
  },
);

/** The float64 cases of the rows kernels, with `variant` forced (it must be the one that runs). */
async function assertRowsKernelsMatch(variant: "rows" | "shared_rows") {
  const expected = variant === "rows" || subgroupAttentionSupported() ? variant : "rows";
  assertEquals(attentionVariant(17, 16), expected);
  await attentionCase([1, 1, 1, 1], {}); // one token, one column
  await attentionCase([2, 2, 5, 3], { seed: 131 }); // head size below one vec4
  await attentionCase([2, 2, 17, 16], { seed: 132 }); // Fashion-MNIST ViT: 16 patches + cls
  await attentionCase([1, 2, 33, 6], { scale: 0.3, seed: 133 }); // past one chunk of 32 keys
  await attentionCase([1, 1, 40, 8], { scale: 30, grad: false, seed: 134 }); // large scores
  await selfAttentionCase([1, 1, 2, 3], { seed: 135 });
  await selfAttentionCase([2, 5, 2, 3], { seed: 136 });
  await selfAttentionCase([2, 17, 2, 16], { seed: 137 });
  await selfAttentionCase([1, 33, 3, 5], { scale: 0.4, seed: 138 });
  await selfAttentionCase([3, 9, 2, 8], { seed: 139 }); // heads of 9 rows: 16 lanes each
}

gpuTest(
  "attention: rows and blocked kernels agree at N = 45, D = 24, forward and grads",
  () => assertVariantsAgree([1, 2, 45, 24], 141),
);
