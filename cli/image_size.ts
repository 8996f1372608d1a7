/**
 * `--size` of the commands that run a model on images (`embed`, `attn`, `pca`): one side (the
 * shorter side resized to it, then a centre crop, as DINO's evaluation) or width x height (the
 * whole image resized to it: DINOv3 takes any multiple of its patch, square or not).
 * @module
 */
import { UserError } from "./run.ts";

/**
 * The input size of the commands that run a model on images: `--size 224` (one side: the shorter
 * side resized to it, then a centre crop, `crop` true) or `--size 320x240` (width x height: the
 * whole image resized to it, no crop).
 */
export interface ImageSize {
  /** Input width in pixels. */
  width: number;
  /** Input height in pixels. */
  height: number;
  /** True for a single side (resize + centre crop), false for width x height (resize only). */
  crop: boolean;
}

/** `size` as an `ImageSize` (a number is a side: resize + centre crop). */
export function imageSize(size: number | ImageSize): ImageSize {
  return typeof size === "number" ? { width: size, height: size, crop: true } : size;
}

/** `--size` as written: "224" or "320x240". */
export function formatImageSize(size: ImageSize): string {
  return size.crop ? `${size.width}` : `${size.width}x${size.height}`;
}

/** Parses `--size` (`flag`): a whole side ("224") or width x height ("320x240"). */
export function parseImageSize(text: string, flag = "--size"): ImageSize {
  const pair = /^\s*(\d+)\s*[xX]\s*(\d+)\s*$/.exec(text);
  if (pair) {
    const [width, height] = [Number(pair[1]), Number(pair[2])];
    if (width >= 1 && height >= 1) return { width, height, crop: false };
  }
  if (/^\s*\d+\s*$/.test(text) && Number(text) >= 1) {
    return { width: Number(text), height: Number(text), crop: true };
  }
  throw new UserError(
    `${flag} must be a whole number of pixels (a side: resize and centre crop) or WxH ` +
      `(width x height, e.g. 320x240: the whole image resized), got ${text}`,
  );
}
