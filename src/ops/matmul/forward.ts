/**
 * Matmul ops (forward). Their gradient rules are in src/ops/matmul/backward.ts; the kernel
 * variants and the autotuner are in ./variants.ts.
 * @module
 */
import { ShapeError } from "../../gpu/errors.ts";
import { needsGrad, noGrad, record } from "../../tensor/tape.ts";
import { formatShape, type Shape, shapeSize, Tensor } from "../../tensor/tensor.ts";
import { castValues } from "../cast/forward.ts";
import { launchColumns } from "../reduction/forward.ts";
import { transpose } from "../shape/forward.ts";
import { chooseMatmulVariant, choosesTransposedCopy, transposedCopyApplies } from "./choice.ts";
import {
  dispatchMatmul,
  kSliceCount,
  kSliceDepth,
  type MatmulProblem,
  matmulVariant,
} from "./variants.ts";

/** Activation fused into the matmul epilogue. */
export type MatmulActivation = "none" | "gelu";

/** Attributes of the matmul ops, keyed by op name. */
export interface MatmulOps {
  /** out = act(op(a) @ op(b) + bias) + residual; inputs [a, b, bias?, residual?]. */
  matmul: {
    /** Whether a is stored as [..., K, M]. */
    transposeA: boolean;
    /** Whether b is stored as [..., N, K]. */
    transposeB: boolean;
    /** Activation applied after the bias. */
    activation: MatmulActivation;
    /** Whether a bias is an input (after a and b). */
    hasBias: boolean;
    /** Whether a residual is an input (last). */
    hasResidual: boolean;
  };
}

/** Options of `matmul`. */
export interface MatmulOptions {
  /** a is stored as [...batch, K, M] (use its transpose). */
  transposeA?: boolean;
  /** b is stored as [N, K] or [...batch, N, K] (use its transpose). */
  transposeB?: boolean;
  /** [N] values added to every output row before the activation. */
  bias?: Tensor;
  /** Activation after the bias: GELU in its erf form (PyTorch's default), or none. */
  activation?: MatmulActivation;
  /** A tensor of the output's shape added after the activation. */
  residual?: Tensor;
  /** Force a kernel variant by name (see `MATMUL_VARIANTS`); default: tuned or heuristic. */
  variant?: string;
  /**
   * Split K into this many slices summed afterwards (1: no split); default: as many as the
   * adapter needs for a product of few output blocks and a long K (`kSliceCount`). Only plain
   * products (no bias, activation or residual) of one batch entry are split.
   */
  kSlices?: number;
}

/** The sizes of a matmul after validation. */
export interface MatmulGeometry {
  /** The problem handed to a kernel variant. */
  problem: MatmulProblem;
  /** Output shape [...batch, M, N]. */
  outputShape: number[];
  /** Batch dims of the output. */
  batchShape: number[];
}

function sameShape(x: Shape, y: Shape): boolean {
  return x.length === y.length && x.every((extent, index) => extent === y[index]);
}

/** Validates the operands of a matmul and returns its sizes; throws ShapeError naming the shapes. */
export function matmulGeometry(a: Tensor, b: Tensor, options: MatmulOptions = {}): MatmulGeometry {
  const transposeA = options.transposeA ?? false;
  const transposeB = options.transposeB ?? false;
  const pair = `a ${formatShape(a.shape)} x b ${formatShape(b.shape)}`;
  if (a.rank < 2 || b.rank < 2) {
    throw new ShapeError(`matmul: operands need rank >= 2: ${pair}`);
  }
  if ((a.dtype !== "f32" && a.dtype !== "f16") || a.dtype !== b.dtype) {
    throw new ShapeError(
      `matmul: operands must be both f32 or both f16: a ${a.dtype}, b ${b.dtype}` +
        (a.dtype !== b.dtype ? " (cast one with cast())" : ""),
    );
  }
  const [aRows, aCols] = a.shape.slice(-2);
  const [bRows, bCols] = b.shape.slice(-2);
  const m = transposeA ? aCols : aRows;
  const kA = transposeA ? aRows : aCols;
  const kB = transposeB ? bCols : bRows;
  const n = transposeB ? bRows : bCols;
  if (kA !== kB) {
    throw new ShapeError(
      `matmul: inner sizes differ: ${pair} (${kA} vs ${kB})` +
        (transposeA || transposeB
          ? ` with transposeA ${transposeA}, transposeB ${transposeB}`
          : ""),
    );
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  if (aBatch.length > 0 && bBatch.length > 0 && !sameShape(aBatch, bBatch)) {
    throw new ShapeError(
      `matmul: batch dims differ: ${pair} (${formatShape(aBatch)} vs ${formatShape(bBatch)})`,
    );
  }
  const batchShape = aBatch.length > 0 ? aBatch : bBatch;
  const outputShape = [...batchShape, m, n];
  if (options.bias) {
    if (options.bias.dtype !== "f32" || !sameShape(options.bias.shape, [n])) {
      throw new ShapeError(
        `matmul: bias shape ${formatShape(options.bias.shape)} ${options.bias.dtype} does not ` +
          `fit ${pair} (want [${n}] f32)`,
      );
    }
  }
  if (options.residual) {
    if (options.residual.dtype !== "f32" || !sameShape(options.residual.shape, outputShape)) {
      throw new ShapeError(
        `matmul: residual shape ${formatShape(options.residual.shape)} ${options.residual.dtype} ` +
          `does not fit ${pair} (want ${formatShape(outputShape)} f32)`,
      );
    }
  }
  if (options.activation !== undefined && !["none", "gelu"].includes(options.activation)) {
    throw new ShapeError(`matmul: unknown activation "${options.activation}" (want none or gelu)`);
  }
  const batch = shapeSize(batchShape);
  // A batched a [..., M, K] times a shared b is one product of batch * M rows: a kernel fills
  // its row blocks far better than with `batch` products of a few rows (ViT tokens: M = 17).
  const foldBatch = batch > 1 && bBatch.length === 0 && !transposeA;
  const problem: MatmulProblem = {
    batch: foldBatch ? 1 : batch,
    m: foldBatch ? batch * m : m,
    n,
    k: kA,
    transposeA,
    transposeB,
    sharedA: aBatch.length === 0,
    sharedB: bBatch.length === 0,
    f16: a.dtype === "f16",
  };
  return { problem, outputShape, batchShape };
}

/**
 * Matrix product with a fused epilogue: `act(op(a) @ op(b) + bias) + residual`.
 * a: [...batch, M, K] ([...batch, K, M] with `transposeA`); b: [K, N] shared across the batch or
 * [...batch, K, N] ([N, K] / [...batch, N, K] with `transposeB`); a may also be a shared
 * [M, K] with a batched b. Output [...batch, M, N]. Recorded as op "matmul".
 * a and b may both be f16 (see `cast`): they are widened to f32 as they are read, and the sums,
 * epilogue and output are f32 (a variant without an f16 form widens them first: the same sums).
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const geometry = matmulGeometry(a, b, options);
  const { outputShape } = geometry;
  const activation = options.activation ?? "none";
  if (copiesTransposedA(geometry.problem, options)) return transposedFirst(a, b, options);
  const variant = options.variant
    ? matmulVariant(options.variant)
    : chooseMatmulVariant(geometry.problem);
  // f16 operands without an f16 form of the variant: widened to f32 copies (exact) first.
  const widen = geometry.problem.f16 === true && !variant.supports(geometry.problem);
  const problem = widen ? { ...geometry.problem, f16: false } : geometry.problem;
  const left = widen ? castValues(a, "f32") : a;
  const right = widen ? castValues(b, "f32") : b;
  if (!variant.supports(problem)) {
    throw new ShapeError(
      `matmul: variant "${variant.name}" does not support ${formatShape(a.shape)} x ` +
        `${formatShape(b.shape)} (transposeA ${problem.transposeA}, transposeB ` +
        `${problem.transposeB}): ${variant.description}`,
    );
  }
  const inputs = matmulInputs(a, b, options);
  const recording = needsGrad(inputs);
  const output = Tensor.empty(outputShape, "f32", "matmul");
  const plain = !options.bias && !options.residual && activation === "none" &&
    problem.batch === 1 && variant.splitsK;
  const slices = plain ? Math.min(options.kSlices ?? kSliceCount(variant, problem), problem.k) : 1;
  if (slices > 1) {
    // Split K: each slice writes its partial [M, N] product, then the partials are summed.
    const depth = kSliceDepth(problem.k, slices);
    const partials = Tensor.empty(
      [Math.ceil(problem.k / depth), problem.m * problem.n],
      "f32",
      "matmul partials",
    );
    dispatchMatmul(
      variant,
      problem,
      { a: left.buffer, b: right.buffer, out: partials.buffer },
      { bias: false, gelu: false, residual: false, savePre: false },
      depth,
    );
    launchColumns(partials, output, 1, partials.shape[0], problem.m * problem.n, 1, 1);
    partials.dispose();
    if (widen) { for (const copy of [left, right]) copy.dispose(); }
    return recordMatmul(inputs, output, options, [a, b]);
  }
  const pre = recording && activation === "gelu"
    ? Tensor.empty(outputShape, "f32", "matmul pre-activation")
    : undefined;
  dispatchMatmul(
    variant,
    problem,
    {
      a: left.buffer,
      b: right.buffer,
      out: output.buffer,
      bias: options.bias?.buffer,
      residual: options.residual?.buffer,
      pre: pre?.buffer,
    },
    {
      bias: options.bias !== undefined,
      gelu: activation === "gelu",
      residual: options.residual !== undefined,
      savePre: pre !== undefined,
    },
  );
  if (widen) { for (const copy of [left, right]) copy.dispose(); }
  if (recording) {
    // f16 operands: the saved pre-activation is kept as f16 too (half of a block's largest saved
    // activation), widened again for the gradient
    const kept = pre && geometry.problem.f16 ? castValues(pre, "f16") : pre;
    if (kept !== pre) pre?.dispose();
    recordMatmul(inputs, output, options, kept ? [a, b, kept] : [a, b]);
    kept?.dispose();
  }
  return output;
}

/** Whether `matmul` copies a transposed (see `choosesTransposedCopy`). */
function copiesTransposedA(problem: MatmulProblem, options: MatmulOptions): boolean {
  return transposedCopyApplies(problem) && options.variant === undefined &&
    (options.activation ?? "none") === "none" && choosesTransposedCopy(problem);
}

/**
 * `matmul` with `transposeA` as a transposed copy of a and the plain product; recorded as the
 * transposed product of a itself (its gradient rule saves a and b).
 */
function transposedFirst(a: Tensor, b: Tensor, options: MatmulOptions): Tensor {
  const output = noGrad(() => {
    const copy = transpose(a, -2, -1);
    const product = matmul(copy, b, { ...options, transposeA: false });
    copy.dispose();
    return product;
  });
  return recordMatmul(matmulInputs(a, b, options), output, options, [a, b]);
}

/** The inputs of a matmul node: a, b, then the bias and the residual where given. */
function matmulInputs(a: Tensor, b: Tensor, options: MatmulOptions): Tensor[] {
  const inputs = [a, b];
  if (options.bias) inputs.push(options.bias);
  if (options.residual) inputs.push(options.residual);
  return inputs;
}

/** Records `output` as a matmul node of `inputs` laid out by `options`, keeping `saved`. */
function recordMatmul(
  inputs: Tensor[],
  output: Tensor,
  options: MatmulOptions,
  saved: Tensor[],
): Tensor {
  return record("matmul", inputs, output, {
    transposeA: options.transposeA ?? false,
    transposeB: options.transposeB ?? false,
    activation: options.activation ?? "none",
    hasBias: options.bias !== undefined,
    hasResidual: options.residual !== undefined,
  }, saved);
}

/**
 * A fully connected layer with PyTorch's weight layout: `x @ weight^T + bias`.
 * x: [..., in] (rank >= 2), weight: [out, in], bias: [out]. Output [..., out].
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  if (x.rank < 2 || weight.rank !== 2) {
    throw new ShapeError(
      `linear: want x [..., in] of rank >= 2 and weight [out, in]: x ${formatShape(x.shape)}, ` +
        `weight ${formatShape(weight.shape)}`,
    );
  }
  return matmul(x, weight, { transposeB: true, bias });
}

/**
 * Sums `rows` consecutive blocks of `shape` elements of `values` into one tensor of `shape`: the
 * column sums of [rows, size of shape] (reduction/forward.ts's `launchColumns`). Few, long columns
 * (bias gradients: [6336, 96] -> [96]) are summed in two passes: partial sums over chunks of rows,
 * then the sum of the partials. `chunks` forces the number of chunks (1: one pass, the earlier
 * kernel's behaviour); exported for benchmarks.
 */
export function sumBlocks(values: Tensor, rows: number, shape: number[], chunks?: number): Tensor {
  const result = Tensor.empty(shape);
  if (result.size === 0) return result;
  launchColumns(values, result, 1, rows, result.size, 1, chunks);
  return result;
}
