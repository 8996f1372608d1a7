/**
 * Elementwise ops (forward): `add`, `sub`, `mul`, `div` with NumPy broadcasting, `scale`,
 * `addScalar`, `gelu` and `silu`. Their gradient rules are in src/ops/elementwise/backward.ts.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { flatLaunch, flatWorkgroups } from "../../gpu/launch.ts";
import { needsGrad, record } from "../../tensor/tape.ts";
import { formatShape, type Shape, Tensor } from "../../tensor/tensor.ts";

/** Attributes of the elementwise ops, keyed by op name. */
export interface ElementwiseOps {
  /** `a + b` with broadcasting. */
  add: Record<string, never>;
  /** `a - b` with broadcasting. */
  sub: Record<string, never>;
  /** `a * b` with broadcasting. */
  mul: Record<string, never>;
  /** `a / b` with broadcasting. */
  div: Record<string, never>;
  /** `x * factor`. */
  scale: { factor: number };
  /** `x + value`. */
  addScalar: { value: number };
  /** GELU, erf form. */
  gelu: Record<string, never>;
  /** SiLU, `x * sigmoid(x)`. */
  silu: Record<string, never>;
}

/** Highest rank the broadcast kernel handles after merging axes. */
export const MAX_BROADCAST_RANK = 8;

/** Throws unless `x` holds f32 values. */
export function requireF32(op: string, x: Tensor, what = "x"): void {
  if (x.dtype !== "f32") {
    throw new ShapeError(`${op}: ${what} must be f32, got ${x.describe()}`);
  }
}

/**
 * The NumPy broadcast of two shapes (trailing axes aligned, size-1 axes stretched); throws a
 * `ShapeError` naming `op` and both shapes when they are incompatible.
 */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const result: number[] = [];
  for (let axis = 0; axis < rank; axis++) {
    const extentA = a[axis - rank + a.length] ?? 1;
    const extentB = b[axis - rank + b.length] ?? 1;
    if (extentA === extentB || extentB === 1) result.push(extentA);
    else if (extentA === 1) result.push(extentB);
    else {
      throw new ShapeError(
        `${op}: shapes cannot be broadcast: a ${formatShape(a)} and b ${formatShape(b)} ` +
          `(axis ${axis - rank} has ${extentA} vs ${extentB})`,
      );
    }
  }
  return result;
}

const BINARY_CODES = { add: 0, sub: 1, mul: 2, div: 3, broadcastCopy: 4 } as const;

/** Strides of `input` (padded to the output's rank) per merged output axis; 0 where broadcast. */
function broadcastLayout(output: Shape, a: Shape, b: Shape) {
  const rank = output.length;
  const padA = [...Array(rank - a.length).fill(1), ...a];
  const padB = [...Array(rank - b.length).fill(1), ...b];
  const axes: { extent: number; broadcastA: boolean; broadcastB: boolean }[] = [];
  for (let axis = 0; axis < rank; axis++) {
    if (output[axis] === 1) continue;
    const broadcastA = padA[axis] === 1;
    const broadcastB = padB[axis] === 1;
    const last = axes.at(-1);
    if (last && last.broadcastA === broadcastA && last.broadcastB === broadcastB) {
      last.extent *= output[axis];
    } else axes.push({ extent: output[axis], broadcastA, broadcastB });
  }
  const stridesA = new Array<number>(axes.length);
  const stridesB = new Array<number>(axes.length);
  let runningA = 1;
  let runningB = 1;
  for (let axis = axes.length - 1; axis >= 0; axis--) {
    stridesA[axis] = axes[axis].broadcastA ? 0 : runningA;
    stridesB[axis] = axes[axis].broadcastB ? 0 : runningB;
    if (!axes[axis].broadcastA) runningA *= axes[axis].extent;
    if (!axes[axis].broadcastB) runningB *= axes[axis].extent;
  }
  return { shape: axes.map((axis) => axis.extent), stridesA, stridesB };
}

/** Dispatches the binary kernel `code` writing `output` (whose shape is the broadcast shape). */
function launchBinary(
  op: string,
  code: number,
  a: Tensor,
  b: Tensor,
  output: Tensor,
  scalar = 1,
): void {
  const count = output.size;
  if (count === 0) return;
  const words = new Uint32Array(4 + 3 * MAX_BROADCAST_RANK);
  words[0] = count;
  new Float32Array(words.buffer, 8, 1)[0] = scalar;
  const buffers = [a.buffer, b.buffer, output.buffer];
  let launch: { entryPoint: string; workgroups: [number, number] } = flatLaunch(count, buffers);
  if (a.size !== count || b.size !== count) {
    const layout = broadcastLayout(output.shape, a.shape, b.shape);
    if (layout.shape.length > MAX_BROADCAST_RANK) {
      throw new ShapeError(
        `${op}: broadcasting a ${formatShape(a.shape)} and b ${formatShape(b.shape)} needs ` +
          `${layout.shape.length} axes after merging (at most ${MAX_BROADCAST_RANK})`,
      );
    }
    words[1] = layout.shape.length;
    words.set(layout.shape, 4);
    words.set(layout.stridesA, 4 + MAX_BROADCAST_RANK);
    words.set(layout.stridesB, 4 + 2 * MAX_BROADCAST_RANK);
    // a vec4 of the output at a time where the innermost axis comes in whole vec4s, each input
    // read along it as a vec4 (stride 1) or one element (stride 0)
    const vec4 = layout.shape.at(-1)! % 4 === 0;
    launch = {
      entryPoint: vec4 ? "broadcast_vec4" : "broadcast",
      workgroups: flatWorkgroups(vec4 ? count / 4 : count),
    };
  }
  gpu().dispatch({
    kernel: "elementwise/binary",
    ...launch,
    constants: { OP: code },
    buffers,
    params: words,
  });
}

function binary(op: "add" | "sub" | "mul" | "div", a: Tensor, b: Tensor): Tensor {
  requireF32(op, a, "a");
  requireF32(op, b, "b");
  const shape = broadcastShapes(op, a.shape, b.shape);
  const output = Tensor.empty(shape);
  launchBinary(op, BINARY_CODES[op], a, b, output);
  // mul keeps only what its gradients read: b for a's, a for b's (a dropout mask or stochastic
  // depth's keeps the branch off the tape); div keeps both
  const saved = op === "div" ? [a, b] : op === "mul" ? mulSaved(a, b) : [];
  return record(op, [a, b], output, {}, saved);
}

/** What `mul`'s gradient rule reads: b if a needs a gradient, then a if b needs one. */
function mulSaved(a: Tensor, b: Tensor): Tensor[] {
  return [...(needsGrad([a]) ? [b] : []), ...(needsGrad([b]) ? [a] : [])];
}

/** `a + b` elementwise, with NumPy broadcasting. */
export function add(a: Tensor, b: Tensor): Tensor {
  return binary("add", a, b);
}

/** `a - b` elementwise, with NumPy broadcasting. */
export function sub(a: Tensor, b: Tensor): Tensor {
  return binary("sub", a, b);
}

/** `a * b` elementwise, with NumPy broadcasting. */
export function mul(a: Tensor, b: Tensor): Tensor {
  return binary("mul", a, b);
}

/** `a / b` elementwise, with NumPy broadcasting. */
export function div(a: Tensor, b: Tensor): Tensor {
  return binary("div", a, b);
}

/**
 * Copies `x` stretched to `shape` (NumPy broadcasting), times `factor`. Not recorded on the tape:
 * gradient rules use it to expand a reduced gradient back to an input's shape.
 */
export function broadcastTo(x: Tensor, shape: Shape, factor = 1): Tensor {
  requireF32("broadcastTo", x);
  const target = broadcastShapes("broadcastTo", x.shape, shape);
  if (target.length !== shape.length || target.some((extent, axis) => extent !== shape[axis])) {
    throw new ShapeError(
      `broadcastTo: cannot broadcast ${formatShape(x.shape)} to ${formatShape(shape)}`,
    );
  }
  const output = Tensor.empty(shape);
  launchBinary("broadcastTo", BINARY_CODES.broadcastCopy, x, x, output, factor);
  return output;
}

const UNARY_CODES = { scale: 0, addScalar: 1, gelu: 2, silu: 3 } as const;

function unary(op: keyof typeof UNARY_CODES, x: Tensor, scalar: number): Tensor {
  requireF32(op, x);
  const output = Tensor.empty(x.shape);
  const words = new Uint32Array(2);
  words[0] = x.size;
  new Float32Array(words.buffer, 4, 1)[0] = scalar;
  const buffers = [x.buffer, output.buffer];
  gpu().dispatch({
    kernel: "elementwise/unary",
    ...flatLaunch(x.size, buffers),
    constants: { OP: UNARY_CODES[op] },
    buffers,
    params: words,
  });
  return output;
}

/** `x * factor` elementwise. */
export function scale(x: Tensor, factor: number): Tensor {
  return record("scale", [x], unary("scale", x, factor), { factor });
}

/** `x + value` elementwise. */
export function addScalar(x: Tensor, value: number): Tensor {
  return record("addScalar", [x], unary("addScalar", x, value), { value });
}

/** GELU in the erf form as PyTorch's default: `0.5 x (1 + erf(x / sqrt 2))`. */
export function gelu(x: Tensor): Tensor {
  return record("gelu", [x], unary("gelu", x, 0), {}, [x]);
}

/** SiLU (swish): `x * sigmoid(x)`. */
export function silu(x: Tensor): Tensor {
  return record("silu", [x], unary("silu", x, 0), {}, [x]);
}

/** `gradOut * f'(x)` for the activations `gelu` and `silu` (used by their gradient rules). */
export function activationBackward(
  activation: "gelu" | "silu",
  x: Tensor,
  gradOut: Tensor,
): Tensor {
  const output = Tensor.empty(x.shape);
  const count = x.size;
  if (count === 0) return output;
  const buffers = [x.buffer, gradOut.buffer, output.buffer];
  gpu().dispatch({
    kernel: "elementwise/unary_backward",
    ...flatLaunch(count, buffers),
    constants: { OP: activation === "gelu" ? 0 : 1 },
    buffers,
    params: new Uint32Array([count]),
  });
  return output;
}
