/**
 * Float64 CPU references of the softmax ops, which the tests check the GPU kernels and the
 * gradient rules against (tests/ops/softmax_test.ts).
 * @module
 */
/** Float64 (log-)softmax of x / temperature over rows of `length`. */
export function softmaxReference(length: number, temperature: number, log: boolean) {
  return (x: Float64Array) => {
    const result = new Float64Array(x.length);
    for (let row = 0; row < x.length / length; row++) {
      let maximum = -Infinity;
      for (let k = 0; k < length; k++) {
        maximum = Math.max(maximum, x[row * length + k] / temperature);
      }
      let total = 0;
      for (let k = 0; k < length; k++) {
        total += Math.exp(x[row * length + k] / temperature - maximum);
      }
      for (let k = 0; k < length; k++) {
        const shifted = x[row * length + k] / temperature - maximum;
        result[row * length + k] = log ? shifted - Math.log(total) : Math.exp(shifted) / total;
      }
    }
    return result;
  };
}

/** Float64 -sum(target * logp) over rows of `length`. */
export function crossEntropyReference(length: number) {
  return (target: Float64Array, logp: Float64Array) => {
    const result = new Float64Array(target.length / length);
    for (let row = 0; row < result.length; row++) {
      let total = 0;
      for (let k = 0; k < length; k++) total += target[row * length + k] * logp[row * length + k];
      result[row] = -total;
    }
    return result;
  };
}

/** Float64 -logSoftmax(logits)[label] per row. */
export function crossEntropyLabelsReference(classes: number) {
  return (logits: Float64Array, labels: Float64Array) => {
    const logp = softmaxReference(classes, 1, true)(logits);
    return labels.map((label, row) => -logp[row * classes + label]);
  };
}
