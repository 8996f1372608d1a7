/**
 * Model input from decoded images, as DINO's evaluation transforms: the shorter side resized to
 * `size` (bicubic, antialiased when shrinking, as PIL's), a centre crop of `size` x `size`, then
 * ImageNet mean and std. An image already `size` x `size` is used as is.
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
  const { width, height, data } = image;
  const plane = size * size;
  const store = (c: number, y: number, x: number, value: number) => {
    const clamped = Math.min(255, Math.max(0, value));
    target[offset + c * plane + y * size + x] = (clamped / 255 - IMAGENET_MEAN[c]) /
      IMAGENET_STD[c];
  };
  if (width === size && height === size) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let c = 0; c < 3; c++) store(c, y, x, data[(y * width + x) * 3 + c]);
      }
    }
    return target;
  }
  const [outW, outH] = resizedSize(width, height, size);
  const top = Math.round((outH - size) / 2);
  const left = Math.round((outW - size) / 2);
  const columns = resampleTaps(width, outW, left, size);
  const rows = resampleTaps(height, outH, top, size);
  // horizontal pass over every input row, only the cropped columns: [height, size, 3]
  const horizontal = new Float64Array(height * size * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < size; x++) {
      const { first, weights } = columns[x];
      let r = 0, g = 0, b = 0;
      for (let k = 0; k < weights.length; k++) {
        const at = (y * width + first + k) * 3;
        r += weights[k] * data[at];
        g += weights[k] * data[at + 1];
        b += weights[k] * data[at + 2];
      }
      const o = (y * size + x) * 3;
      horizontal[o] = r;
      horizontal[o + 1] = g;
      horizontal[o + 2] = b;
    }
  }
  for (let y = 0; y < size; y++) {
    const { first, weights } = rows[y];
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let value = 0;
        for (let k = 0; k < weights.length; k++) {
          value += weights[k] * horizontal[((first + k) * size + x) * 3 + c];
        }
        store(c, y, x, value);
      }
    }
  }
  return target;
}

/** The cropped RGB bytes [size, size, 3] the model sees (for overlays), un-normalised. */
export function displayImage(normalised: Float32Array, size: number, offset = 0): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  const plane = size * size;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const value = (normalised[offset + c * plane + i] * IMAGENET_STD[c] + IMAGENET_MEAN[c]) * 255;
      out[i * 3 + c] = Math.round(Math.min(255, Math.max(0, value)));
    }
  }
  return out;
}
