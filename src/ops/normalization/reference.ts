/**
 * Float64 CPU references of the normalization ops, which the tests check the GPU kernels and the
 * gradient rules against (tests/ops/normalization_test.ts).
 * @module
 */
/** Float64 LayerNorm over the last axis (biased variance, as PyTorch). */
export function layerNormReference(
  length: number,
  eps: number,
  hasWeight: boolean,
  hasBias: boolean,
) {
  return (...inputs: Float64Array[]) => {
    const [x] = inputs;
    const weight = hasWeight ? inputs[1] : undefined;
    const bias = hasBias ? inputs[hasWeight ? 2 : 1] : undefined;
    const result = new Float64Array(x.length);
    for (let row = 0; row < x.length / length; row++) {
      let mean = 0;
      for (let k = 0; k < length; k++) mean += x[row * length + k];
      mean /= length;
      let variance = 0;
      for (let k = 0; k < length; k++) variance += (x[row * length + k] - mean) ** 2;
      variance /= length;
      const rstd = 1 / Math.sqrt(variance + eps);
      for (let k = 0; k < length; k++) {
        const value = (x[row * length + k] - mean) * rstd;
        result[row * length + k] = value * (weight ? weight[k] : 1) + (bias ? bias[k] : 0);
      }
    }
    return result;
  };
}
