// DINOv3's Gram anchoring loss against a float64 transcription of dinov3/loss/gram_loss.py
// (apply_norm, img_level, no negative removal), with the student's gradient checked by finite
// differences.
import { ShapeError } from "../../src/gpu/errors.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { gramLoss } from "../../src/train/gram_loss.ts";
import { assertThrows } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { checkOp } from "../helpers/op_check.ts";

/** F.normalize(x, dim=-1) in float64 (eps 1e-12, as PyTorch's default). */
function normalise(x: ArrayLike<number>, rows: number, dim: number): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    let squared = 0;
    for (let c = 0; c < dim; c++) squared += x[i * dim + c] ** 2;
    const norm = Math.max(Math.sqrt(squared), 1e-12);
    for (let c = 0; c < dim; c++) out[i * dim + c] = x[i * dim + c] / norm;
  }
  return out;
}

function gramReference(
  student: ArrayLike<number>,
  teacher: ArrayLike<number>,
  views: number,
  patches: number,
  dim: number,
): number {
  const s = normalise(student, views * patches, dim);
  const t = normalise(teacher, views * patches, dim);
  let total = 0;
  for (let v = 0; v < views; v++) {
    for (let i = 0; i < patches; i++) {
      for (let j = 0; j < patches; j++) {
        let studentDot = 0;
        let teacherDot = 0;
        for (let c = 0; c < dim; c++) {
          const a = (v * patches + i) * dim + c;
          const b = (v * patches + j) * dim + c;
          studentDot += s[a] * s[b];
          teacherDot += t[a] * t[b];
        }
        total += (studentDot - teacherDot) ** 2;
      }
    }
  }
  return total / (views * patches * patches);
}

for (const [views, patches, dim] of [[1, 2, 3], [2, 9, 8], [4, 16, 24], [3, 49, 40]] as const) {
  gpuTest(`gram loss: [${views}, ${patches}, ${dim}] and the student's gradient`, () => {
    const count = views * patches * dim;
    const teacherValues = Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.37 + 1));
    return checkOp({
      name: `gramLoss [${views}, ${patches}, ${dim}]`,
      inputs: [{ shape: [views, patches, dim] }],
      gpu: (student) => {
        const teacher = tensor(teacherValues, [views, patches, dim]);
        const loss = gramLoss(student, teacher);
        teacher.dispose();
        return loss;
      },
      reference: (student) =>
        Float64Array.of(gramReference(student, teacherValues, views, patches, dim)),
      outputShape: [],
      tolerance: { absolute: 1e-6, relative: 1e-4 },
      gradTolerance: { absolute: 2e-5, relative: 2e-3 },
      seed: views * 31 + patches + dim,
    });
  });
}

gpuTest("gram loss: zero when the student's patches are the teacher's up to scale", async () => {
  const values = Array.from({ length: 2 * 5 * 6 }, (_, i) => Math.cos(i * 1.3));
  const teacher = tensor(values, [2, 5, 6]);
  const student = tensor(values.map((v) => 3 * v), [2, 5, 6]);
  const loss = gramLoss(student, teacher);
  const [value] = await loss.read();
  if (!(Math.abs(value) < 1e-10)) throw new Error(`gram loss of scaled copies: ${value}`);
  for (const t of [teacher, student, loss]) t.dispose();
});

gpuTest("gram loss: mismatched shapes are refused with both shapes", () => {
  const a = tensor(new Float32Array(24), [2, 3, 4]);
  const b = tensor(new Float32Array(24), [2, 4, 3]);
  assertThrows(() => gramLoss(a, b), ShapeError, "[2, 3, 4] and [2, 4, 3]");
  a.dispose();
  b.dispose();
});
