/**
 * Float64 CPU references of the attention ops, which the tests check the GPU kernels and the
 * gradient rules against (tests/ops/attention_test.ts).
 * @module
 */
import type { Shape } from "../../tensor/tensor.ts";

/** float64 softmax(q k^T * scale) over keys, [B*H, N, N] flat. */
export function float64AttentionProbabilities(
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
export function float64Attention(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  shape: Shape,
  scale?: number,
): Float64Array {
  const [batch, heads, n, d] = shape;
  const probabilities = float64AttentionProbabilities(q, k, shape, scale);
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

/** Splits a packed qkv [B, N, 3, H, d] (flat) into q, k, v [B, H, N, d] (flat), float64. */
export function unpackQkv(
  qkv: Float64Array,
  batch: number,
  tokens: number,
  heads: number,
  d: number,
) {
  const parts = [0, 1, 2].map(() => new Float64Array(batch * heads * tokens * d));
  for (let b = 0; b < batch; b++) {
    for (let n = 0; n < tokens; n++) {
      for (let which = 0; which < 3; which++) {
        for (let h = 0; h < heads; h++) {
          for (let c = 0; c < d; c++) {
            parts[which][((b * heads + h) * tokens + n) * d + c] =
              qkv[(((b * tokens + n) * 3 + which) * heads + h) * d + c];
          }
        }
      }
    }
  }
  return parts;
}

/** float64 self-attention of a packed qkv [B, N, 3 H d]: output [B, N, H d] (heads merged). */
export function float64SelfAttention(
  qkv: Float64Array,
  shape: Shape,
  heads: number,
  scale?: number,
): Float64Array {
  const [batch, tokens, width] = shape;
  const d = width / (3 * heads);
  const [q, k, v] = unpackQkv(qkv, batch, tokens, heads, d);
  const attended = float64Attention(q, k, v, [batch, heads, tokens, d], scale);
  const result = new Float64Array(batch * tokens * heads * d);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let n = 0; n < tokens; n++) {
        for (let c = 0; c < d; c++) {
          result[((b * tokens + n) * heads + h) * d + c] =
            attended[((b * heads + h) * tokens + n) * d + c];
        }
      }
    }
  }
  return result;
}
