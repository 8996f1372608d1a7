/** RoPE on a packed qkv: values and gradient against the float64 reference; bad shapes refused. */
import { assertThrows } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { ropeQkv } from "../../src/ops/rope/forward.ts";
import { ropeQkvReference } from "../../src/ops/rope/reference.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { checkOp } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

/** A table [rotated, 2, half] of cos/sin of arbitrary angles. */
function table(rotated: number, half: number, seed: number): number[] {
  const values: number[] = [];
  for (let p = 0; p < rotated; p++) {
    const angles = Array.from({ length: half }, (_, j) => Math.sin(seed + 1.7 * p + 0.9 * j) * 3);
    values.push(...angles.map(Math.cos), ...angles.map(Math.sin));
  }
  return values;
}

gpuTest("rope: packed qkv rotation matches float64, gradient = rotation by -angle", async () => {
  const cases = [
    // batch, tokens, dim, heads, rotated (prefix = tokens - rotated)
    [2, 7, 16, 2, 4],
    [1, 5, 8, 1, 5],
    [3, 9, 24, 3, 4],
    [1, 3, 12, 3, 0],
  ] as const;
  for (const [batch, tokens, dim, heads, rotated] of cases) {
    const half = dim / heads / 2;
    await checkOp({
      name: `ropeQkv B${batch} N${tokens} D${dim} H${heads} P${rotated}`,
      inputs: [
        { shape: [batch, tokens, 3 * dim] },
        { shape: [rotated, 2, half], values: table(rotated, half, dim), grad: false },
      ],
      gpu: (qkv, angles) => ropeQkv(qkv, angles, heads),
      reference: ropeQkvReference(batch, tokens, dim, heads),
      outputShape: [batch, tokens, 3 * dim],
      tolerance: { absolute: 1e-6, relative: 1e-5 },
    });
  }
});

gpuTest("rope: shapes that do not fit are refused, naming the op and shapes", () => {
  using qkv = tensor(new Float32Array(2 * 5 * 24), [2, 5, 24]);
  using good = tensor(new Float32Array(4 * 2 * 2), [4, 2, 2]);
  using wide = tensor(new Float32Array(4 * 2 * 3), [4, 2, 3]);
  using long = tensor(new Float32Array(6 * 2 * 2), [6, 2, 2]);
  using flat = tensor(new Float32Array(40), [2, 20]);
  assertThrows(() => ropeQkv(flat, good, 2), ShapeError, "qkv must be [B, N, 3 D], got [2, 20]");
  assertThrows(() => ropeQkv(qkv, good, 3), ShapeError, "width 8 must split into 3 heads");
  assertThrows(() => ropeQkv(qkv, wide, 2), ShapeError, "table must be [P, 2, 2]");
  assertThrows(() => ropeQkv(qkv, long, 2), ShapeError, "rotates 6 tokens but qkv [2, 5, 24]");
  ropeQkv(qkv, good, 2).dispose();
});
