// The KoLeo op and loss against float64 transcriptions of DINOv2's KoLeoLoss, with gradients
// checked by finite differences.
import { ShapeError } from "../../src/gpu/errors.ts";
import { koleoTerms } from "../../src/ops/koleo/forward.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { koleoLoss } from "../../src/train/koleo.ts";
import { assertThrows } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { checkOp } from "../helpers/op_check.ts";

const EPS = 1e-8;

function termsReference(x: Float64Array, rows: number, dim: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let best = -Infinity;
    let index = -1;
    for (let j = 0; j < rows; j++) {
      if (j === i) continue;
      let dot = 0;
      for (let c = 0; c < dim; c++) dot += x[i * dim + c] * x[j * dim + c];
      if (dot > best) {
        best = dot;
        index = j;
      }
    }
    let squared = 0;
    for (let c = 0; c < dim; c++) {
      const d = x[i * dim + c] - x[index * dim + c] + EPS;
      squared += d * d;
    }
    out[i] = -Math.log(Math.sqrt(squared) + EPS);
  }
  return out;
}

function normalise(x: Float64Array, rows: number, dim: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < rows; i++) {
    let squared = 0;
    for (let c = 0; c < dim; c++) squared += x[i * dim + c] ** 2;
    const norm = Math.max(Math.sqrt(squared), EPS);
    for (let c = 0; c < dim; c++) out[i * dim + c] = x[i * dim + c] / norm;
  }
  return out;
}

for (const [rows, dim] of [[2, 1], [5, 3], [33, 17], [70, 40]] as const) {
  gpuTest(`koleo: terms of [${rows}, ${dim}] and their gradient`, () =>
    checkOp({
      name: `koleoTerms [${rows}, ${dim}]`,
      inputs: [{ shape: [rows, dim] }],
      gpu: (x) => koleoTerms(x),
      reference: (x) => termsReference(x, rows, dim),
      outputShape: [rows],
      tolerance: { absolute: 1e-5, relative: 1e-4 },
      gradTolerance: { absolute: 2e-4, relative: 2e-3 },
      seed: rows * 7 + dim,
    }));
}

for (const [rows, dim] of [[3, 4], [16, 9], [64, 32]] as const) {
  gpuTest(`koleo: loss (normalised, mean) of [${rows}, ${dim}] and its gradient`, () =>
    checkOp({
      name: `koleoLoss [${rows}, ${dim}]`,
      inputs: [{ shape: [rows, dim] }],
      gpu: (x) => koleoLoss(x),
      reference: (x) => {
        const terms = termsReference(normalise(x, rows, dim), rows, dim);
        return Float64Array.of(terms.reduce((s, v) => s + v, 0) / rows);
      },
      outputShape: [],
      tolerance: { absolute: 1e-5, relative: 1e-4 },
      gradTolerance: { absolute: 2e-4, relative: 2e-3 },
      seed: rows + dim,
    }));
}

gpuTest("koleo: one row or a wrong rank is refused", () => {
  const x = tensor([1, 2, 3], [1, 3]);
  assertThrows(() => koleoTerms(x), ShapeError, "rows >= 2");
  const y = tensor([1, 2, 3], [3]);
  assertThrows(() => koleoTerms(y), ShapeError, "koleoTerms: x must be [rows, dim]");
  x.dispose();
  y.dispose();
});
