import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import {
  concat,
  permute,
  reshape,
  setCopyBlocksMode,
  setPermuteMode,
  simplifyPermutation,
  slice,
  split,
  transpose,
} from "../../src/ops/shape/forward.ts";
import { gatherRows, scatterRows } from "../../src/ops/shape/rows.ts";
import { backward } from "../../src/tensor/backward.ts";
import {
  liveTensorCount,
  type Shape,
  type Tensor,
  tensor,
  zeros,
} from "../../src/tensor/tensor.ts";
import { checkOp } from "../helpers/op_check.ts";
import { gpuTest, watchKernels } from "../helpers/gpu_test.ts";
import {
  concatReference,
  gatherReference,
  permuteReference,
  scatterReference,
  sliceReference,
} from "../../src/ops/shape/reference.ts";

// ---- cases ----

gpuTest("shape: reshape is a view with -1 inferred, gradient reshaped back", async () => {
  for (
    const [from, to, expected] of [
      [[3, 4, 5], [5, -1], [5, 12]],
      [[1, 7], [-1], [7]],
      [[2, 1, 3], [3, 1, 2], [3, 1, 2]],
    ] as [Shape, Shape, Shape][]
  ) {
    await checkOp({
      name: `reshape ${from} -> ${to}`,
      inputs: [{ shape: from }],
      gpu: (x) => reshape(x, to),
      reference: (x) => Float64Array.from(x),
      outputShape: expected,
    });
  }
  const x = zeros([2, 6]);
  assertThrows(() => reshape(x, [-1, -1]), ShapeError, "at most one axis may be -1");
  assertThrows(() => reshape(x, [5, -1]), ShapeError, "cannot infer the -1 axis of [5, -1]");
  assertThrows(() => reshape(x, [4, 4]), ShapeError, "cannot reshape [2, 6] (12 elements)");
  x.dispose();
});

gpuTest("shape: permute and transpose match the reference, odd shapes up to rank 6", async () => {
  const cases: [Shape, number[]][] = [
    [[2, 3, 1, 5], [3, 0, 2, 1]],
    [[2, 1, 3, 2, 1, 3], [5, 3, 1, 0, 4, 2]],
    [[2, 3, 4, 5, 3, 2], [0, 2, 4, 1, 3, 5]],
    [[7], [0]],
    [[16, 9, 13], [2, 0, 1]],
  ];
  for (const [shape, order] of cases) {
    await checkOp({
      name: `permute ${shape} by ${order}`,
      inputs: [{ shape }],
      gpu: (x) => permute(x, order),
      reference: (x) => permuteReference(x, shape, order),
      outputShape: order.map((axis) => shape[axis]),
    });
  }
  await checkOp({
    name: "transpose [4, 7] 0 1",
    inputs: [{ shape: [4, 7] }],
    gpu: (x) => transpose(x, 0, 1),
    reference: (x) => permuteReference(x, [4, 7], [1, 0]),
    outputShape: [7, 4],
  });
  await checkOp({
    name: "transpose [2, 3, 5] -1 0",
    inputs: [{ shape: [2, 3, 5] }],
    gpu: (x) => transpose(x, -1, 0),
    reference: (x) => permuteReference(x, [2, 3, 5], [2, 1, 0]),
    outputShape: [5, 3, 2],
  });
  const ints = tensor([1, 2, 3, 4, 5, 6], [2, 3], "i32");
  const moved = permute(ints, [1, 0]);
  assertEquals(Array.from(await moved.read()), [1, 4, 2, 5, 3, 6]);
  const x = zeros([2, 3]);
  assertThrows(() => permute(x, [0, 0]), ShapeError, "order [0, 0] is not a permutation");
  assertThrows(() => permute(x, [0]), ShapeError, "is not a permutation of the axes of [2, 3]");
  assertThrows(() => transpose(x, 0, 2), ShapeError, "transpose: axis 2 out of range");
  for (const t of [ints, moved, x]) t.dispose();
});

gpuTest("shape: concat along each axis, gradient split back", async () => {
  const cases: [Shape[], number][] = [
    [[[2, 3, 4], [2, 1, 4], [2, 5, 4]], 1],
    [[[1, 3], [4, 3]], 0],
    [[[3, 2, 1], [3, 2, 3]], -1],
    [[[5, 1]], 0],
  ];
  for (const [shapes, axis] of cases) {
    const resolved = axis < 0 ? axis + shapes[0].length : axis;
    const total = shapes.reduce((sum, shape) => sum + shape[resolved], 0);
    await checkOp({
      name: `concat ${JSON.stringify(shapes)} axis ${axis}`,
      inputs: shapes.map((shape) => ({ shape })),
      gpu: (...parts) => concat(parts, axis),
      reference: (...parts) => concatReference(parts, shapes, resolved),
      outputShape: shapes[0].map((extent, d) => d === resolved ? total : extent),
    });
  }
  // only some inputs require grad
  await checkOp({
    name: "concat with a constant input",
    inputs: [{ shape: [2, 3] }, { shape: [2, 2], grad: false }],
    gpu: (a, b) => concat([a, b], 1),
    reference: (a, b) => concatReference([a, b], [[2, 3], [2, 2]], 1),
    outputShape: [2, 5],
  });
  const a = zeros([2, 3]);
  const b = zeros([3, 3]);
  const c = zeros([2, 3], "i32");
  assertThrows(() => concat([a, b], 1), ShapeError, "concat: shapes differ off axis 1");
  assertThrows(() => concat([a, c], 0), ShapeError, "[2, 3] f32, [2, 3] i32");
  assertThrows(() => concat([], 0), ShapeError, "concat: no tensors given");
  assertThrows(() => concat([a], 2), ShapeError, "concat: axis 2 out of range for shape [2, 3]");
  for (const t of [a, b, c]) t.dispose();
});

gpuTest("shape: slice and split, gradient padded with zeros", async () => {
  const cases: [Shape, number, number, number][] = [
    [[5, 7, 3], 1, 2, 6],
    [[5, 7, 3], 0, 0, 1],
    [[5, 7, 3], -1, 1, 3],
    [[4, 9], 1, 0, 9],
    [[1, 1], 0, 0, 1],
  ];
  for (const [shape, axis, start, end] of cases) {
    const resolved = axis < 0 ? axis + shape.length : axis;
    await checkOp({
      name: `slice ${shape} axis ${axis} [${start}, ${end})`,
      inputs: [{ shape }],
      gpu: (x) => slice(x, axis, start, end),
      reference: (x) => sliceReference(x, shape, resolved, start, end),
      outputShape: shape.map((extent, d) => d === resolved ? end - start : extent),
    });
  }
  await checkOp({
    name: "split [3, 7, 2] axis 1 into [2, 3, 2], middle piece",
    inputs: [{ shape: [3, 7, 2] }],
    gpu: (x) => {
      const [first, middle, last] = split(x, 1, [2, 3, 2]);
      first.dispose();
      last.dispose();
      return middle;
    },
    reference: (x) => sliceReference(x, [3, 7, 2], 1, 2, 5),
    outputShape: [3, 3, 2],
  });
  const values = Array.from({ length: 12 }, (_, i) => i);
  const x = tensor(values, [2, 6]);
  const pieces = split(x, -1, [1, 0, 5]);
  assertEquals(pieces.map((piece) => piece.shape), [[2, 1], [2, 0], [2, 5]]);
  assertEquals(Array.from(await pieces[0].read()), [0, 6]);
  assertEquals(Array.from(await pieces[2].read()), [1, 2, 3, 4, 5, 7, 8, 9, 10, 11]);
  assertThrows(() => slice(x, 1, 4, 7), ShapeError, "slice: range [4, 7) out of bounds for axis 1");
  assertThrows(() => slice(x, 0, 2, 1), ShapeError, "range [2, 1)");
  assertThrows(
    () => split(x, 1, [2, 2]),
    ShapeError,
    "split: sizes [2, 2] do not add up to extent 6",
  );
  for (const t of [x, ...pieces]) t.dispose();
});

gpuTest("shape: gatherRows with repeated indices, gradient scatter-adds", async () => {
  const cases: [Shape, number[]][] = [
    [[6, 5], [2, 0, 2, 5, 5, 5, 1]],
    [[1, 3], [0, 0, 0]],
    [[4, 2, 3], [3, 1]],
    [[9, 1], [8]],
  ];
  for (const [shape, indices] of cases) {
    await checkOp({
      name: `gatherRows ${shape} at ${indices}`,
      inputs: [{ shape }, { shape: [indices.length], values: indices, dtype: "i32" }],
      gpu: (x, index) => gatherRows(x, index),
      reference: (x, index) => gatherReference(x, shape[0], index),
      outputShape: [indices.length, ...shape.slice(1)],
    });
  }
  // a larger case: 300 rows of 37, 500 random indices
  let seed = 11;
  const draws = Array.from(
    { length: 500 },
    () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 300,
  );
  await checkOp({
    name: "gatherRows [300, 37] at 500 indices",
    inputs: [{ shape: [300, 37] }, { shape: [500], values: draws, dtype: "i32" }],
    gpu: (x, index) => gatherRows(x, index),
    reference: (x, index) => gatherReference(x, 300, index),
    outputShape: [500, 37],
    gradSamples: 60,
  });
  // indices outside [0, R) read zeros and receive nothing
  await checkOp({
    name: "gatherRows with out-of-range indices",
    inputs: [{ shape: [3, 2] }, { shape: [4], values: [-1, 2, 3, 0], dtype: "i32" }],
    gpu: (x, index) => gatherRows(x, index),
    reference: (x, index) => gatherReference(x, 3, index),
    outputShape: [4, 2],
  });
  const x = zeros([3, 2]);
  const floats = zeros([2]);
  const matrix = zeros([2, 2], "i32");
  assertThrows(() => gatherRows(x, floats), ShapeError, "indices must be a 1-D i32 tensor");
  assertThrows(() => gatherRows(x, matrix), ShapeError, "got [2, 2] i32");
  for (const t of [x, floats, matrix]) t.dispose();
});

gpuTest(
  "shape: scatterRows replaces rows (last repeat wins), gradients to base and rows",
  async () => {
    const cases: [Shape, number[]][] = [
      [[7, 4], [3, 0, 3, 6]],
      [[5, 3], [4]],
      [[2, 2, 3], [1, 0]],
      [[4, 1], [2, 2, 2]],
      [[3, 2], [5, -1, 1]],
    ];
    for (const [shape, indices] of cases) {
      const rowsShape = [indices.length, ...shape.slice(1)];
      await checkOp({
        name: `scatterRows ${shape} at ${indices}`,
        inputs: [
          { shape },
          { shape: [indices.length], values: indices, dtype: "i32" },
          { shape: rowsShape },
        ],
        gpu: (base, index, rows) => scatterRows(base, index, rows),
        reference: (base, index, rows) => scatterReference(base, shape[0], index, rows),
        outputShape: shape,
        gradSamples: 100,
      });
    }
    const base = zeros([4, 3]);
    const index = tensor([1, 2], [2], "i32");
    const wrong = zeros([2, 4]);
    assertThrows(
      () => scatterRows(base, index, wrong),
      ShapeError,
      "scatterRows: rows must be [2, 3] f32 for base [4, 3] and 2 indices, got [2, 4] f32",
    );
    for (const t of [base, index, wrong] as Tensor[]) t.dispose();
  },
);

gpuTest("shape: forward and backward of every shape op leave no tensor behind", () => {
  const before = liveTensorCount();
  const x = tensor(Array.from({ length: 24 }, (_, i) => i), [4, 6]);
  x.requiresGrad = true;
  const index = tensor([3, 1, 3], [3], "i32");
  const reshaped = reshape(x, [6, 4]);
  const moved = transpose(reshaped, 0, 1);
  const [left, right] = split(moved, 1, [2, 4]);
  const joined = concat([right, left], 1);
  const picked = gatherRows(joined, index);
  const scattered = scatterRows(joined, index, picked);
  const result = slice(scattered, 0, 1, 3);
  const cotangent = zeros(result.shape);
  backward(result, cotangent);
  for (const t of [reshaped, moved, left, right, joined, picked, scattered, result, cotangent]) {
    t.dispose();
  }
  x.grad?.dispose();
  x.dispose();
  index.dispose();
  assertEquals(liveTensorCount(), before);
});

gpuTest("shape: permute per row run and per element, merged axes, long rows", async () => {
  assertEquals(simplifyPermutation([32, 65, 3, 3, 32], [2, 0, 3, 1, 4]).extents, [
    3,
    32,
    3,
    65,
    32,
  ]);
  assertEquals(simplifyPermutation([2, 3, 1, 4, 5], [0, 1, 3, 4, 2]), {
    extents: [120],
    strides: [1],
  });
  assertEquals(simplifyPermutation([4, 5, 6], [2, 0, 1]), { extents: [6, 20], strides: [1, 6] });
  const cases: [Shape, number[]][] = [
    [[6, 5, 3, 3, 7], [2, 0, 3, 1, 4]],
    [[3, 70], [1, 0]],
    [[70, 3], [1, 0]],
    [[2, 3, 1, 4, 5], [0, 1, 3, 4, 2]],
    [[2, 2, 67], [1, 0, 2]],
    [[1, 1], [1, 0]],
  ];
  for (const mode of ["rows", "elements"] as const) {
    setPermuteMode(mode);
    try {
      for (const [shape, order] of cases) {
        await checkOp({
          name: `permute ${mode} ${shape} by ${order}`,
          inputs: [{ shape }],
          gpu: (x) => permute(x, order),
          reference: (x) => permuteReference(x, shape, order),
          outputShape: order.map((axis) => shape[axis]),
          gradSamples: 10,
        });
      }
    } finally {
      setPermuteMode(undefined);
    }
  }
});

gpuTest("shape: transposes with both sides multiples of 4 go by 4 x 4 blocks", async () => {
  const cases: [Shape, number[]][] = [
    [[8, 12], [1, 0]],
    [[3, 4, 8], [0, 2, 1]],
    [[68, 64], [1, 0]],
    [[2, 5, 4, 8], [0, 1, 3, 2]], // batch axes merged: [10, 4, 8]
    [[4, 1, 12], [2, 1, 0]], // a size-1 axis dropped
  ];
  const watch = watchKernels();
  try {
    for (const [shape, order] of cases) {
      watch.entryPoints.length = 0;
      await checkOp({
        name: `permute ${shape} by ${order}`,
        inputs: [{ shape }],
        gpu: (x) => permute(x, order),
        reference: (x) => permuteReference(x, shape, order),
        outputShape: order.map((axis) => shape[axis]),
        gradSamples: 10,
      });
      assertTrue(
        watch.entryPoints.includes("shape/permute:transpose4"),
        `permute ${shape} by ${order}: ${watch.entryPoints.join(", ")}`,
      );
    }
    // any 32-bit element type
    const ints = tensor(Array.from({ length: 32 }, (_, i) => i), [4, 8], "i32");
    const moved = permute(ints, [1, 0]);
    const expected = Array.from({ length: 32 }, (_, i) => (i % 4) * 8 + Math.floor(i / 4));
    assertEquals(Array.from(await moved.read()), expected);
    ints.dispose();
    moved.dispose();
  } finally {
    watch.stop();
  }
});

gpuTest("shape: slice and concat copy long runs in both copy modes", async () => {
  for (const mode of ["runs", "elements"] as const) {
    setCopyBlocksMode(mode);
    try {
      await checkOp({
        name: `slice ${mode} [5, 100] axis 1 3..70`,
        inputs: [{ shape: [5, 100] }],
        gpu: (x) => slice(x, 1, 3, 70),
        reference: (x) => {
          const out = new Float64Array(5 * 67);
          for (let r = 0; r < 5; r++) {
            for (let c = 0; c < 67; c++) out[r * 67 + c] = x[r * 100 + c + 3];
          }
          return out;
        },
        outputShape: [5, 67],
        gradSamples: 10,
      });
    } finally {
      setCopyBlocksMode(undefined);
    }
  }
});
