/**
 * Float64 CPU reference of the RoPE op, which tests/ops/rope_test.ts checks the kernel and its
 * gradient rule against: DINOv3's `rope_apply` (x * cos + rotate_half(x) * sin) on the queries and
 * keys of the last P tokens of a packed qkv, written out head by head.
 * @module
 */

/**
 * `(qkv, table) => output` for a packed qkv [batch, tokens, 3 dim] with `heads` heads and a table
 * [P, 2, headSize / 2] of cosines and sines (the table is read, not differentiated).
 */
export function ropeQkvReference(batch: number, tokens: number, dim: number, heads: number) {
  const size = dim / heads;
  const half = size / 2;
  return (qkv: Float64Array, table: Float64Array): Float64Array => {
    const rotated = table.length / size;
    const prefix = tokens - rotated;
    const out = Float64Array.from(qkv);
    for (let b = 0; b < batch; b++) {
      for (let t = prefix; t < tokens; t++) {
        const cos = (j: number) => table[(t - prefix) * size + j];
        const sin = (j: number) => table[(t - prefix) * size + half + j];
        for (let part = 0; part < 2; part++) {
          for (let h = 0; h < heads; h++) {
            const base = (b * tokens + t) * 3 * dim + part * dim + h * size;
            for (let j = 0; j < size; j++) {
              // rotate_half: [-x2, x1]
              const rotatedHalf = j < half ? -qkv[base + j + half] : qkv[base + j - half];
              out[base + j] = qkv[base + j] * cos(j % half) + rotatedHalf * sin(j % half);
            }
          }
        }
      }
    }
    return out;
  };
}
