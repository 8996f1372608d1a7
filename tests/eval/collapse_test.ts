import { assertEquals, assertTrue as assert } from "../helpers/assert.ts";
import { collapseMonitors, collapseWarning } from "../../src/eval/collapse.ts";
import { readAll, tensor } from "../../src/tensor/tensor.ts";
import { assertClose } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

function softmaxRows(logits: Float64Array, rows: number, classes: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const top = Math.max(...row);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += out[r * classes + c] = Math.exp(row[c] - top);
    for (let c = 0; c < classes; c++) out[r * classes + c] /= sum;
  }
  return out;
}

gpuTest("collapse monitors: entropies and KL match a float64 reference", async () => {
  const random = new Random(9);
  for (const [rows, classes] of [[1, 1], [7, 300], [33, 1000]]) {
    const teacher = Float64Array.from(
      Float32Array.from(softmaxRows(random.normals(rows * classes, 2), rows, classes)),
    );
    teacher[0] = 0; // 0 log 0 = 0
    const studentProbs = softmaxRows(random.normals(rows * classes), rows, classes);
    const studentLog = Float64Array.from(Float32Array.from(studentProbs.map(Math.log)));
    let entropy = 0;
    let kl = 0;
    const column = new Float64Array(classes);
    for (let i = 0; i < teacher.length; i++) {
      const p = teacher[i];
      column[i % classes] += p / rows;
      if (p > 0) {
        entropy -= p * Math.log(p) / rows;
        kl += p * (Math.log(p) - studentLog[i]) / rows;
      }
    }
    let batch = 0;
    for (const m of column) if (m > 0) batch -= m * Math.log(m);
    const t = tensor(teacher, [rows, classes]);
    const s = tensor(studentLog, [rows, classes]);
    const monitors = collapseMonitors(t, s);
    const alone = collapseMonitors(t);
    const values = await readAll([
      monitors.meanEntropy,
      monitors.batchEntropy,
      monitors.kl,
      alone.kl,
    ]);
    assertClose(values.map((v) => v[0]), [entropy, batch, kl, 0], `monitors ${rows}x${classes}`, {
      absolute: 1e-5,
      relative: 1e-4,
    });
    for (const x of [t, s, ...Object.values(monitors), ...Object.values(alone)]) x.dispose();
  }
});

gpuTest("collapse warning flags low and near-uniform entropy", () => {
  assert(collapseWarning(0.05, 1000)?.includes("< 0.1"));
  assert(collapseWarning(0.99 * Math.log(1000), 1000)?.includes("uniform"));
  assertEquals(collapseWarning(3, 1000), undefined);
  assert(collapseWarning(NaN, 10) !== undefined);
});

// Lavapipe ends a shader invocation silently after 65,535 loop iterations in all: 1,100 rows of
// 15,360 classes give each of 256 threads 60 classes x 1,101 row passes in one dispatch.
gpuTest(
  "collapse monitors: 1,100 x 15,360 (past lavapipe's loop limit) match float64",
  async () => {
    const rows = 1_100;
    const classes = 15_360;
    const teacher = new Float32Array(rows * classes);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < classes; c++) {
        teacher[r * classes + c] = (((r * 31 + c * 17) % 101) + (c % 5 === 0 ? 0 : 1)) / 1e5;
      }
    }
    let entropy = 0;
    let batch = 0;
    for (let c = 0; c < classes; c++) {
      let column = 0;
      for (let r = 0; r < rows; r++) {
        const p = teacher[r * classes + c];
        column += p;
        if (p > 0) entropy -= p * Math.log(p) / rows;
      }
      const m = column / rows;
      if (m > 0) batch -= m * Math.log(m);
    }
    const t = tensor(teacher, [rows, classes]);
    const monitors = collapseMonitors(t);
    const values = await readAll([monitors.meanEntropy, monitors.batchEntropy, monitors.kl]);
    assertClose(values.map((v) => v[0]), [entropy, batch, 0], "monitors 1100x15360", {
      absolute: 1e-5,
      relative: 1e-4,
    });
    for (const x of [t, ...Object.values(monitors)]) x.dispose();
  },
);
