/**
 * Image ops (forward): `patchify` (the patch embedding's rearrangement) and `resizeBicubic`
 * (PyTorch's `F.interpolate(mode="bicubic", align_corners=False)`, with and without
 * antialiasing). Their gradient rules are in src/ops/image/backward.ts.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import { permute } from "../shape/forward.ts";
import { noGrad, record } from "../../tensor/tape.ts";
import { constantTensor, formatShape, type Shape, Tensor } from "../../tensor/tensor.ts";

/** Attributes of the image ops, keyed by op name. */
export interface ImageOps {
  /** `patchify(images, patch)`: the image shape and the patch size. */
  patchify: { inputShape: Shape; patch: number };
  /** `resizeBicubic(x, options)`: the resampling, so the gradient can apply its transpose. */
  resizeBicubic: ResizePlan;
}

/**
 * Splits images [B, C, H, W] into non-overlapping `patch` x `patch` patches:
 * [B, (H / patch) * (W / patch), C * patch * patch], patches in row-major grid order and each
 * patch vector in PyTorch conv-weight order (c, kh, kw). So a Conv2d(kernel = stride = patch)
 * weight [D, C, patch, patch] viewed as [D, C * patch * patch] applies as a linear layer.
 */
export function patchify(images: Tensor, patch: number): Tensor {
  if (images.rank !== 4 || images.dtype !== "f32") {
    throw new ShapeError(
      `patchify: images must be [B, C, H, W] f32, got ${formatShape(images.shape)} ${images.dtype}`,
    );
  }
  const [batch, channels, height, width] = images.shape;
  if (!Number.isInteger(patch) || patch < 1) {
    throw new ShapeError(`patchify: patch size must be a whole number >= 1, got ${patch}`);
  }
  if (height < patch || width < patch || height % patch !== 0 || width % patch !== 0) {
    throw new ShapeError(
      `patchify: image size ${height} x ${width} of ${
        formatShape(images.shape)
      } is not a multiple of the patch size ${patch}`,
    );
  }
  const rows = height / patch;
  const columns = width / patch;
  const output = noGrad(() => {
    const split = images.view([batch, channels, rows, patch, columns, patch]);
    const moved = permute(split, [0, 2, 4, 1, 3, 5]);
    split.dispose();
    const result = moved.view([batch, rows * columns, channels * patch * patch]);
    moved.dispose();
    return result;
  });
  return record("patchify", [images], output, { inputShape: images.shape, patch });
}

/** Options of `resizeBicubic`: exactly one of `size` and `scaleFactor`. */
export interface ResizeOptions {
  /** Output height and width. */
  size?: readonly [number, number];
  /**
   * Height and width factors: output size floor(in * factor); coordinates map back with
   * 1 / factor (PyTorch's behaviour without `recompute_scale_factor`).
   */
  scaleFactor?: readonly [number, number];
  /** PyTorch's antialiased bicubic (a = -0.5, support widened when downsampling). */
  antialias?: boolean;
}

/** A resolved resampling: input and output shapes, the coordinate scales and the filter. */
export interface ResizePlan {
  /** Input shape [B, C, H, W]. */
  inputShape: Shape;
  /** Output shape [B, C, h, w]. */
  outputShape: Shape;
  /** Output-to-input coordinate scale of each axis (in / out, or 1 / scaleFactor). */
  coordinateScales: readonly [number, number];
  /** Whether the antialiased filter is used. */
  antialias: boolean;
}

/** Keys' cubic convolution kernel with coefficient `a` at distance |x|. */
function cubic(x: number, a: number): number {
  const d = Math.abs(x);
  if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  return 0;
}

/**
 * The resampling of one axis as a dense row-major [outSize, inSize] float64 matrix: PyTorch's
 * bicubic (a = -0.75, taps clamped at the border) or its antialiased variant (a = -0.5,
 * support scaled by the downsampling factor, weights normalised per output).
 */
export function bicubicMatrix(
  inSize: number,
  outSize: number,
  coordinateScale: number,
  antialias: boolean,
): Float64Array {
  const matrix = new Float64Array(outSize * inSize);
  // PyTorch maps coordinates in float32 (the scale, then scale * (o + 0.5) - 0.5): rounding the
  // same way keeps the taps within 1e-6 of it, where float64 positions drift by up to ~1e-5.
  const scale = Math.fround(coordinateScale);
  for (let o = 0; o < outSize; o++) {
    const row = o * inSize;
    if (!antialias) {
      const real = Math.fround(Math.fround(scale * (o + 0.5)) - 0.5);
      const floor = Math.floor(real);
      const t = Math.fround(real - floor);
      const weights = [
        cubic(t + 1, -0.75),
        cubic(t, -0.75),
        cubic(1 - t, -0.75),
        cubic(2 - t, -0.75),
      ];
      for (let tap = 0; tap < 4; tap++) {
        const index = Math.min(Math.max(floor - 1 + tap, 0), inSize - 1);
        matrix[row + index] += weights[tap];
      }
      continue;
    }
    const support = scale >= 1 ? 2 * scale : 2;
    const inverse = scale >= 1 ? 1 / scale : 1;
    const center = Math.fround(scale * (o + 0.5));
    const first = Math.max(Math.trunc(center - support + 0.5), 0);
    const last = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    for (let i = first; i < last; i++) {
      const weight = cubic((i - center + 0.5) * inverse, -0.5);
      matrix[row + i] = weight;
      total += weight;
    }
    if (total !== 0) { for (let i = first; i < last; i++) matrix[row + i] /= total; }
  }
  return matrix;
}

/** Transposes a row-major [rows, columns] matrix. */
function transposeMatrix(matrix: Float64Array, rows: number, columns: number): Float64Array {
  const result = new Float64Array(rows * columns);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) result[c * rows + r] = matrix[r * columns + c];
  }
  return result;
}

/** Banded form of a [rows, columns] matrix: per row the first nonzero column and the taps. */
function band(matrix: Float64Array, rows: number, columns: number) {
  const starts = new Array<number>(rows).fill(0);
  const ends = new Array<number>(rows).fill(0);
  let taps = 1;
  for (let r = 0; r < rows; r++) {
    let first = -1;
    let last = -1;
    for (let c = 0; c < columns; c++) {
      if (matrix[r * columns + c] !== 0) {
        if (first < 0) first = c;
        last = c;
      }
    }
    if (first >= 0) {
      starts[r] = first;
      ends[r] = last + 1;
      taps = Math.max(taps, last + 1 - first);
    }
  }
  return { starts, ends, taps };
}

/**
 * Applies `planes` x [inHeight, inWidth] -> [outHeight, outWidth] with the separable matrices
 * `rowsMatrix` [outHeight, inHeight] and `columnsMatrix` [outWidth, inWidth]. No tape record.
 */
function applySeparable(
  source: Tensor,
  outputShape: Shape,
  rowsMatrix: Float64Array,
  columnsMatrix: Float64Array,
): Tensor {
  const [, , inHeight, inWidth] = source.shape;
  const [, , outHeight, outWidth] = outputShape;
  const rowsBand = band(rowsMatrix, outHeight, inHeight);
  const columnsBand = band(columnsMatrix, outWidth, inWidth);
  const xOffset = outHeight * (1 + rowsBand.taps);
  const packed = new Float32Array(xOffset + outWidth * (1 + columnsBand.taps));
  const pack = (
    matrix: Float64Array,
    count: number,
    inSize: number,
    { starts, ends, taps }: ReturnType<typeof band>,
    offset: number,
  ) => {
    for (let o = 0; o < count; o++) {
      const at = offset + o * (1 + taps);
      packed[at] = starts[o];
      for (let i = starts[o]; i < ends[o]; i++) {
        packed[at + 1 + i - starts[o]] = matrix[o * inSize + i];
      }
    }
  };
  pack(rowsMatrix, outHeight, inHeight, rowsBand, 0);
  pack(columnsMatrix, outWidth, inWidth, columnsBand, xOffset);
  const output = Tensor.empty(outputShape);
  if (output.size > 0) {
    const table = constantTensor(packed);
    gpu().dispatch({
      kernel: "image/resize_separable",
      buffers: [output.buffer, source.buffer, table.buffer],
      params: Uint32Array.of(
        output.size,
        inHeight,
        inWidth,
        outHeight,
        outWidth,
        rowsBand.taps,
        columnsBand.taps,
        xOffset,
      ),
      workgroups: flatWorkgroups(output.size),
    });
    table.dispose();
  }
  return output;
}

/** Applies the resampling `plan` to `x` (forward, no tape record). */
export function resizeWithPlan(x: Tensor, plan: ResizePlan): Tensor {
  const [, , inHeight, inWidth] = plan.inputShape;
  const [, , outHeight, outWidth] = plan.outputShape;
  return applySeparable(
    x,
    plan.outputShape,
    bicubicMatrix(inHeight, outHeight, plan.coordinateScales[0], plan.antialias),
    bicubicMatrix(inWidth, outWidth, plan.coordinateScales[1], plan.antialias),
  );
}

/** Applies the transpose of the resampling `plan` to `gradOutput` (the gradient, no record). */
export function resizeAdjoint(gradOutput: Tensor, plan: ResizePlan): Tensor {
  const [, , inHeight, inWidth] = plan.inputShape;
  const [, , outHeight, outWidth] = plan.outputShape;
  const rows = bicubicMatrix(inHeight, outHeight, plan.coordinateScales[0], plan.antialias);
  const columns = bicubicMatrix(inWidth, outWidth, plan.coordinateScales[1], plan.antialias);
  const shaped = gradOutput.view(plan.outputShape);
  const result = applySeparable(
    shaped,
    plan.inputShape,
    transposeMatrix(rows, outHeight, inHeight),
    transposeMatrix(columns, outWidth, inWidth),
  );
  shaped.dispose();
  return result;
}

/** Resolves and validates the options of `resizeBicubic` for an input of `shape`. */
export function planResize(shape: Shape, options: ResizeOptions): ResizePlan {
  if (shape.length !== 4) {
    throw new ShapeError(`resizeBicubic: input must be [B, C, H, W], got ${formatShape(shape)}`);
  }
  const [batch, channels, height, width] = shape;
  const { size, scaleFactor, antialias = false } = options;
  if ((size === undefined) === (scaleFactor === undefined)) {
    throw new ShapeError("resizeBicubic: give exactly one of size and scaleFactor");
  }
  if (height < 1 || width < 1) {
    throw new ShapeError(`resizeBicubic: empty input ${formatShape(shape)}`);
  }
  let outHeight: number;
  let outWidth: number;
  let coordinateScales: [number, number];
  if (size) {
    if (size.length !== 2 || size.some((extent) => !Number.isInteger(extent) || extent < 1)) {
      throw new ShapeError(
        `resizeBicubic: size must be two whole numbers >= 1, got [${size.join(", ")}]`,
      );
    }
    [outHeight, outWidth] = size;
    coordinateScales = [height / outHeight, width / outWidth];
  } else {
    const factors = scaleFactor!;
    if (factors.length !== 2 || factors.some((factor) => !(factor > 0) || !isFinite(factor))) {
      throw new ShapeError(
        `resizeBicubic: scaleFactor must be two positive numbers, got [${factors.join(", ")}]`,
      );
    }
    outHeight = Math.floor(height * factors[0]);
    outWidth = Math.floor(width * factors[1]);
    if (outHeight < 1 || outWidth < 1) {
      throw new ShapeError(
        `resizeBicubic: scaleFactor [${factors.join(", ")}] gives an empty output ` +
          `${outHeight} x ${outWidth} from ${formatShape(shape)}`,
      );
    }
    coordinateScales = [1 / factors[0], 1 / factors[1]];
  }
  return {
    inputShape: [...shape],
    outputShape: [batch, channels, outHeight, outWidth],
    coordinateScales,
    antialias,
  };
}

/**
 * Bicubic resize of x [B, C, H, W], equal to PyTorch's
 * `F.interpolate(x, mode="bicubic", align_corners=False, ...)` with `size`, with `scale_factor`
 * (output floor(in * factor), coordinates mapped with 1 / factor, as DINO interpolates position
 * embeddings), or with `antialias=True`. The gradient is the transpose of this linear map,
 * gathered per input pixel (no atomics).
 */
export function resizeBicubic(x: Tensor, options: ResizeOptions): Tensor {
  if (x.dtype !== "f32") {
    throw new ShapeError(`resizeBicubic: input must be f32, got ${x.describe()}`);
  }
  const plan = planResize(x.shape, options);
  const output = resizeWithPlan(x, plan);
  return record("resizeBicubic", [x], output, plan);
}
