/**
 * Float64 CPU references of the image ops, which the tests check the GPU kernels and the
 * gradient rules against (tests/ops/image_test.ts).
 * @module
 */
import type { Shape } from "../../tensor/tensor.ts";
import type { ResizeOptions } from "./forward.ts";

/** Keys' cubic kernel written as a|x|^3 + ... on each piece. */
function keys(x: number, a: number): number {
  const d = Math.abs(x);
  const d2 = d * d;
  const d3 = d2 * d;
  if (d <= 1) return (a + 2) * d3 - (a + 3) * d2 + 1;
  if (d < 2) return a * d3 - 5 * a * d2 + 8 * a * d - 4 * a;
  return 0;
}

/** Taps of one output position along one axis: input index -> weight (clamped or antialiased). */
function axisTaps(
  o: number,
  inSize: number,
  scale: number,
  antialias: boolean,
): Map<number, number> {
  const taps = new Map<number, number>();
  // PyTorch computes the scale and source coordinate in float32
  scale = Math.fround(scale);
  if (!antialias) {
    const real = Math.fround(Math.fround(scale * (o + 0.5)) - 0.5);
    const base = Math.floor(real);
    const t = Math.fround(real - base);
    for (let k = -1; k <= 2; k++) {
      const index = Math.min(inSize - 1, Math.max(0, base + k));
      taps.set(index, (taps.get(index) ?? 0) + keys(k - t, -0.75));
    }
    return taps;
  }
  const support = scale >= 1 ? 2 * scale : 2;
  const stretch = Math.max(scale, 1);
  const center = Math.fround(scale * (o + 0.5));
  const low = Math.max(Math.trunc(center - support + 0.5), 0);
  const high = Math.min(Math.trunc(center + support + 0.5), inSize);
  let total = 0;
  for (let i = low; i < high; i++) total += keys((i + 0.5 - center) / stretch, -0.5);
  for (let i = low; i < high; i++) {
    taps.set(i, keys((i + 0.5 - center) / stretch, -0.5) / total);
  }
  return taps;
}

/** Output shape and output-to-input coordinate scales of the resize options. */
export function resizeGeometry(shape: Shape, options: ResizeOptions) {
  const [batch, channels, height, width] = shape;
  if (options.size) {
    const [h, w] = options.size;
    return { outShape: [batch, channels, h, w], scales: [height / h, width / w] };
  }
  const [sh, sw] = options.scaleFactor!;
  return {
    outShape: [batch, channels, Math.floor(height * sh), Math.floor(width * sw)],
    scales: [1 / sh, 1 / sw],
  };
}

/** patches[b, gy * gw + gx, (c * p + ky) * p + kx] = images[b, c, gy * p + ky, gx * p + kx] */
export function patchifyReference(images: Float64Array, shape: Shape, p: number): Float64Array {
  const [batch, channels, height, width] = shape;
  const gh = height / p;
  const gw = width / p;
  const out = new Float64Array(images.length);
  let i = 0;
  for (let b = 0; b < batch; b++) {
    for (let gy = 0; gy < gh; gy++) {
      for (let gx = 0; gx < gw; gx++) {
        for (let c = 0; c < channels; c++) {
          for (let ky = 0; ky < p; ky++) {
            for (let kx = 0; kx < p; kx++) {
              out[i++] = images[((b * channels + c) * height + gy * p + ky) * width + gx * p + kx];
            }
          }
        }
      }
    }
  }
  return out;
}

/** F.interpolate(mode="bicubic", align_corners=False) per output pixel, in float64. */
export function resizeReference(
  x: Float64Array,
  shape: Shape,
  options: ResizeOptions,
): Float64Array {
  const [batch, channels, height, width] = shape;
  const { outShape, scales } = resizeGeometry(shape, options);
  const [, , outHeight, outWidth] = outShape;
  const antialias = options.antialias ?? false;
  const out = new Float64Array(batch * channels * outHeight * outWidth);
  const rowTaps = Array.from(
    { length: outHeight },
    (_, oy) => axisTaps(oy, height, scales[0], antialias),
  );
  const columnTaps = Array.from(
    { length: outWidth },
    (_, ox) => axisTaps(ox, width, scales[1], antialias),
  );
  let i = 0;
  for (let plane = 0; plane < batch * channels; plane++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        let sum = 0;
        for (const [y, wy] of rowTaps[oy]) {
          for (const [x2, wx] of columnTaps[ox]) {
            sum += wy * wx * x[(plane * height + y) * width + x2];
          }
        }
        out[i++] = sum;
      }
    }
  }
  return out;
}
