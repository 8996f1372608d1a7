/**
 * Rotary position embedding (RoPE) as DINOv3 applies it, on the packed [B, N, 3 D] output of a
 * qkv projection (the layout `selfAttention` reads): the queries and keys of the last P tokens
 * (the patches; the CLS and storage tokens before them are left alone) are rotated pair by pair in
 * the rotate-half layout, `x * cos + rotate_half(x) * sin` with `rotate_half([x1, x2]) =
 * [-x2, x1]` over each head's halves; the values are copied. The angles come as a table
 * [P, 2, headSize / 2] of cosines then sines (the same for both halves, as DINOv3 tiles them).
 * One kernel (kernels/rope/apply.wgsl); its gradient rule (src/ops/rope/backward.ts) is the
 * rotation by the opposite angle.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import { record } from "../../tensor/tape.ts";
import { formatShape, Tensor } from "../../tensor/tensor.ts";
import { requireF32 } from "../elementwise/forward.ts";

/** Attributes of the RoPE op, keyed by op name. */
export interface RopeOps {
  /** RoPE on the patch tokens' queries and keys of a packed qkv; saved: `[table]`. */
  ropeQkv: { heads: number };
}

/** Sizes of a packed qkv and its table, checked. */
interface RopeSizes {
  batch: number;
  tokens: number;
  dim: number;
  half: number;
  rotated: number;
}

function ropeSizes(qkv: Tensor, table: Tensor, heads: number): RopeSizes {
  requireF32("ropeQkv", qkv, "qkv");
  requireF32("ropeQkv", table, "table");
  if (qkv.rank !== 3 || qkv.shape[2] % 3 !== 0) {
    throw new ShapeError(`ropeQkv: qkv must be [B, N, 3 D], got ${formatShape(qkv.shape)}`);
  }
  const [batch, tokens, width] = qkv.shape;
  const dim = width / 3;
  if (!Number.isInteger(heads) || heads < 1 || dim % heads !== 0 || (dim / heads) % 2 !== 0) {
    throw new ShapeError(
      `ropeQkv: width ${dim} must split into ${heads} heads of an even size (qkv ${
        formatShape(qkv.shape)
      })`,
    );
  }
  const half = dim / heads / 2;
  if (table.rank !== 3 || table.shape[1] !== 2 || table.shape[2] !== half) {
    throw new ShapeError(
      `ropeQkv: table must be [P, 2, ${half}] (cosines, sines per rotated token), got ${
        formatShape(table.shape)
      }`,
    );
  }
  const rotated = table.shape[0];
  if (rotated > tokens) {
    throw new ShapeError(
      `ropeQkv: the table rotates ${rotated} tokens but qkv ${
        formatShape(qkv.shape)
      } has ${tokens}`,
    );
  }
  return { batch, tokens, dim, half, rotated };
}

/** Dispatches kernels/rope/apply.wgsl: `sign` 1 rotates by the table's angles, -1 back. */
function dispatchRope(source: Tensor, table: Tensor, sizes: RopeSizes, sign: 1 | -1): Tensor {
  const output = Tensor.empty(source.shape);
  const pairs = sizes.batch * sizes.tokens * 3 * sizes.dim / 2;
  if (pairs === 0) return output;
  const params = new Uint32Array(8);
  params.set([pairs, sizes.tokens, sizes.tokens - sizes.rotated, sizes.dim, sizes.half]);
  new Float32Array(params.buffer)[5] = sign;
  gpu().dispatch({
    kernel: "rope/apply",
    buffers: [source.buffer, table.buffer, output.buffer],
    params,
    workgroups: flatWorkgroups(pairs),
  });
  return output;
}

/**
 * RoPE on the queries and keys of the last `table.shape[0]` tokens of a packed qkv [B, N, 3 D]
 * with `heads` heads, angles from `table` [P, 2, headSize / 2] (cosines, then sines, per rotated
 * token). Returns a new packed qkv; the first N - P tokens and every value are copied unchanged.
 */
export function ropeQkv(qkv: Tensor, table: Tensor, heads: number): Tensor {
  const sizes = ropeSizes(qkv, table, heads);
  const output = dispatchRope(qkv, table, sizes, 1);
  return record("ropeQkv", [qkv], output, { heads }, [table]);
}

/** Gradient of `ropeQkv` with respect to qkv: the rotation by the opposite angles. */
export function ropeQkvBackward(gradOutput: Tensor, table: Tensor, heads: number): Tensor {
  return dispatchRope(gradOutput, table, ropeSizes(gradOutput, table, heads), -1);
}
