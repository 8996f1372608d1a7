/**
 * Model input from decoded images, as DINO's evaluation transforms: the shorter side resized to
 * `size` (bicubic, antialiased when shrinking, as PIL's), a centre crop of `size` x `size`, then
 * ImageNet mean and std; or, for a width x height input (DINOv3 takes any multiple of its patch),
 * the whole image resized to it without a crop. An image already at the output size is used as is.
 * @module
 */
import { IMAGENET_MEAN, IMAGENET_STD } from "../data/imagenet.ts";
import { bicubicMatrix } from "../ops/image/forward.ts";
import type { RgbImage } from "./image.ts";

/** One output sample's taps: first input index and weights. */
interface Taps {
  first: number;
  weights: Float64Array;
}

/** Sparse rows of the resampling matrix for the outputs `from` .. `from + count`. */
function resampleTaps(inSize: number, outSize: number, from: number, count: number): Taps[] {
  const matrix = bicubicMatrix(inSize, outSize, inSize / outSize, outSize < inSize);
  const taps: Taps[] = [];
  for (let o = from; o < from + count; o++) {
    const row = matrix.subarray(o * inSize, (o + 1) * inSize);
    let first = 0;
    while (first < inSize - 1 && row[first] === 0) first++;
    let last = inSize - 1;
    while (last > first && row[last] === 0) last--;
    taps.push({ first, weights: row.slice(first, last + 1) });
  }
  return taps;
}

/** Output size of resizing the shorter side to `size` (torchvision's rule: the longer floors). */
export function resizedSize(width: number, height: number, size: number): [number, number] {
  if (width <= height) return [size, Math.floor(size * height / width)];
  return [Math.floor(size * width / height), size];
}

/**
 * Normalised CHW float32 [3, size, size] of an RGB image: resize the shorter side to `size`
 * (bicubic), centre crop, (x / 255 - mean) / std. Writes into `target` at `offset` when given.
 */
export function preprocessImage(
  image: RgbImage,
  size: number,
  target: Float32Array = new Float32Array(3 * size * size),
  offset = 0,
): Float32Array {
  const [outW, outH] = resizedSize(image.width, image.height, size);
  const top = Math.round((outH - size) / 2);
  const left = Math.round((outW - size) / 2);
  return resample(image, { outW, outH, left, top, width: size, height: size }, target, offset);
}

/**
 * Normalised CHW float32 [3, height, width] of an RGB image resized whole to `width` x `height`
 * (bicubic, antialiased when shrinking; no crop, the aspect ratio is not kept), then ImageNet mean
 * and std. Writes into `target` at `offset` when given.
 */
export function preprocessImageResized(
  image: RgbImage,
  width: number,
  height: number,
  target: Float32Array = new Float32Array(3 * width * height),
  offset = 0,
): Float32Array {
  const region = { outW: width, outH: height, left: 0, top: 0, width, height };
  return resample(image, region, target, offset);
}

/** Resizing to outW x outH, then the crop width x height at (left, top). */
interface Region {
  outW: number;
  outH: number;
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Resizes and crops `image` as `region` says, normalised into `target` at `offset` (CHW). */
function resample(
  image: RgbImage,
  region: Region,
  target: Float32Array,
  offset: number,
): Float32Array {
  const { width, height, data } = image;
  const { outW, outH, left, top } = region;
  const cropW = region.width;
  const cropH = region.height;
  const plane = cropW * cropH;
  const store = (c: number, y: number, x: number, value: number) => {
    const clamped = Math.min(255, Math.max(0, value));
    target[offset + c * plane + y * cropW + x] = (clamped / 255 - IMAGENET_MEAN[c]) /
      IMAGENET_STD[c];
  };
  if (width === cropW && height === cropH) {
    for (let y = 0; y < cropH; y++) {
      for (let x = 0; x < cropW; x++) {
        for (let c = 0; c < 3; c++) store(c, y, x, data[(y * width + x) * 3 + c]);
      }
    }
    return target;
  }
  const columns = resampleTaps(width, outW, left, cropW);
  const rows = resampleTaps(height, outH, top, cropH);
  // horizontal pass over every input row, only the cropped columns: [height, cropW, 3]
  const horizontal = new Float64Array(height * cropW * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < cropW; x++) {
      const { first, weights } = columns[x];
      let r = 0, g = 0, b = 0;
      for (let k = 0; k < weights.length; k++) {
        const at = (y * width + first + k) * 3;
        r += weights[k] * data[at];
        g += weights[k] * data[at + 1];
        b += weights[k] * data[at + 2];
      }
      const o = (y * cropW + x) * 3;
      horizontal[o] = r;
      horizontal[o + 1] = g;
      horizontal[o + 2] = b;
    }
  }
  for (let y = 0; y < cropH; y++) {
    const { first, weights } = rows[y];
    for (let x = 0; x < cropW; x++) {
      for (let c = 0; c < 3; c++) {
        let value = 0;
        for (let k = 0; k < weights.length; k++) {
          value += weights[k] * horizontal[((first + k) * cropW + x) * 3 + c];
        }
        store(c, y, x, value);
      }
    }
  }
  return target;
}

/** The cropped RGB bytes [size, size, 3] the model sees (for overlays), un-normalised. */
export function displayImage(normalised: Float32Array, size: number, offset = 0): Uint8Array {
  return displayImageOf(normalised, size, size, offset);
}

/** The RGB bytes [height, width, 3] of a normalised CHW image (for overlays), un-normalised. */
export function displayImageOf(
  normalised: Float32Array,
  width: number,
  height: number,
  offset = 0,
): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const plane = width * height;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const value = (normalised[offset + c * plane + i] * IMAGENET_STD[c] + IMAGENET_MEAN[c]) * 255;
      out[i * 3 + c] = Math.round(Math.min(255, Math.max(0, value)));
    }
  }
  return out;
}
