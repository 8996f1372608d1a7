/**
 * Pillow's BICUBIC resize of 8-bit images, which DINO's data path runs on every crop
 * (torchvision's RandomResizedCrop on a PIL image: crop the box, then `Image.resize` with
 * `BICUBIC`). Pillow resamples in two passes, columns first then rows, each with a cubic kernel
 * of a = -0.5 whose support widens with the scale when shrinking (antialiasing), weights
 * normalised per output pixel and rounded to 22-bit fixed point, and the result of each pass
 * rounded and clamped to 8 bits (libImaging/Resample.c). This is the same arithmetic, so a crop
 * resized here equals Pillow's byte for byte.
 * @module
 */
import type { CropBox } from "./augment_params.ts";

/** An 8-bit image, row-major HWC. */
export interface ByteImage {
  /** Pixels, `height * width * channels` bytes. */
  data: Uint8Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Channels per pixel (1 gray, 3 RGB, 4 RGBA). */
  channels: number;
}

/** Bits of the fixed-point weights of Pillow's 8-bit resampling (32 - 8 - 2). */
const PRECISION_BITS = 22;

/** Pillow's bicubic filter, a = -0.5, support 2. */
function bicubic(x: number): number {
  const a = -0.5;
  const d = Math.abs(x);
  if (d < 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return (((d - 5) * d + 8) * d - 4) * a;
  return 0;
}

/** C's (int) cast: truncation toward zero. */
function truncate(value: number): number {
  return value < 0 ? Math.ceil(value) : Math.floor(value);
}

/** The taps of one axis: for each output position, its first input index and fixed-point weights. */
interface AxisTaps {
  /** First input index of each output position. */
  first: Int32Array;
  /** Number of weights of each output position. */
  count: Int32Array;
  /** Weights, `kernelSize` per output position. */
  weights: Int32Array;
  /** Weights stored per output position. */
  kernelSize: number;
}

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for input [start, end) -> `outSize`. */
function axisTaps(inSize: number, start: number, end: number, outSize: number): AxisTaps {
  const scale = (end - start) / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const kernelSize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * kernelSize);
  const row = new Float64Array(kernelSize);
  for (let o = 0; o < outSize; o++) {
    const center = start + (o + 0.5) * scale;
    const low = Math.max(truncate(center - support + 0.5), 0);
    const taps = Math.min(truncate(center + support + 0.5), inSize) - low;
    let total = 0;
    for (let t = 0; t < taps; t++) {
      row[t] = bicubic((t + low - center + 0.5) / filterScale);
      total += row[t];
    }
    for (let t = 0; t < taps; t++) {
      const weight = total === 0 ? row[t] : row[t] / total;
      weights[o * kernelSize + t] = weight < 0
        ? truncate(-0.5 + weight * 2 ** PRECISION_BITS)
        : truncate(0.5 + weight * 2 ** PRECISION_BITS);
    }
    first[o] = low;
    count[o] = taps;
  }
  return { first, count, weights, kernelSize };
}

/** Rounds a fixed-point sum (rounding offset included) to a byte, clamped to 0..255. */
function toByte(sum: number): number {
  // |sum| < 2^31 (255 x the weights' absolute sum, about 1.3 x 2^22): an arithmetic shift floors
  const value = sum >> PRECISION_BITS;
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

/**
 * Crops `box` out of `image` and resizes it to `outWidth` x `outHeight` with Pillow's BICUBIC
 * (`image.crop(box).resize((outWidth, outHeight), Image.BICUBIC)`), returning the bytes (HWC,
 * the image's channels), written into `into` when given (`outHeight * outWidth * channels`
 * bytes). The box must lie inside the image.
 */
export function resizeCropBicubic(
  image: ByteImage,
  box: CropBox,
  outWidth: number,
  outHeight: number,
  into?: Uint8Array,
): Uint8Array {
  const { data, width, channels } = image;
  if (
    box.left < 0 || box.top < 0 || box.width < 1 || box.height < 1 ||
    box.left + box.width > width || box.top + box.height > image.height ||
    outWidth < 1 || outHeight < 1
  ) {
    throw new RangeError(
      `resizeCropBicubic: box ${box.left},${box.top} ${box.width}x${box.height} -> ` +
        `${outWidth}x${outHeight} does not fit a ${width}x${image.height} image`,
    );
  }
  const half = 2 ** (PRECISION_BITS - 1);
  // columns first: the crop's rows, each resized to outWidth
  const columns = axisTaps(box.width, 0, box.width, outWidth);
  const wide = new Uint8Array(box.height * outWidth * channels);
  const { count, first, weights, kernelSize } = columns;
  for (let y = 0; y < box.height; y++) {
    const rowStart = ((box.top + y) * width + box.left) * channels;
    const rowOut = y * outWidth * channels;
    for (let x = 0; x < outWidth; x++) {
      const taps = count[x];
      const at = x * kernelSize;
      const from = rowStart + first[x] * channels;
      if (channels === 3) { // the common case, unrolled
        let red = half, green = half, blue = half;
        for (let t = 0, p = from; t < taps; t++, p += 3) {
          const weight = weights[at + t];
          red += data[p] * weight;
          green += data[p + 1] * weight;
          blue += data[p + 2] * weight;
        }
        const o = rowOut + x * 3;
        wide[o] = toByte(red);
        wide[o + 1] = toByte(green);
        wide[o + 2] = toByte(blue);
        continue;
      }
      for (let c = 0; c < channels; c++) {
        let sum = half;
        for (let t = 0; t < taps; t++) sum += data[from + t * channels + c] * weights[at + t];
        wide[rowOut + x * channels + c] = toByte(sum);
      }
    }
  }
  if (into && into.length !== outHeight * outWidth * channels) {
    throw new RangeError(
      `resizeCropBicubic: output of ${into.length} bytes for ${outWidth}x${outHeight}x${channels}`,
    );
  }
  if (box.height === outHeight) { // Pillow skips a pass that changes nothing
    if (!into) return wide;
    into.set(wide);
    return into;
  }
  // then rows
  const rows = axisTaps(box.height, 0, box.height, outHeight);
  const out = into ?? new Uint8Array(outHeight * outWidth * channels);
  const stride = outWidth * channels;
  const sums = new Float64Array(stride);
  for (let y = 0; y < outHeight; y++) {
    const taps = rows.count[y];
    const at = y * rows.kernelSize;
    sums.fill(half);
    // tap by tap over whole rows: sequential reads
    for (let t = 0; t < taps; t++) {
      const weight = rows.weights[at + t];
      const from = (rows.first[y] + t) * stride;
      for (let i = 0; i < stride; i++) sums[i] += wide[from + i] * weight;
    }
    const rowOut = y * stride;
    for (let i = 0; i < stride; i++) out[rowOut + i] = toByte(sums[i]);
  }
  return out;
}
