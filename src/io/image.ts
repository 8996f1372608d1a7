/**
 * Image codecs: JPEG and PNG decoding to RGB uint8, PNG encoding.
 *
 * Pure JavaScript (jpeg-js, fast-png): no native addon and no WASM file to locate at run time,
 * so it works unchanged under `deno compile`, in a single-file bundle and in the browser.
 * Measured against sharp (libvips) and @jsquash/jpeg (WASM) in bench/decode_bench.ts.
 */
import jpeg from "jpeg-js";
import * as fastPng from "fast-png";
import { readImageHeader } from "./image_header.ts";

/** A decoded image: `data` is RGB, 8 bits per channel, row-major HWC, `width * height * 3` bytes. */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Pixels, RGB interleaved, row after row. */
  data: Uint8Array;
}

/** Raised when bytes are not a decodable JPEG or PNG; the message names the problem. */
export class ImageDecodeError extends Error {
  /** Creates the error; `cause` keeps the codec's own error. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ImageDecodeError";
  }
}

/** Image formats `decodeImage` understands. */
export type ImageFormat = "jpeg" | "png";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The format of `bytes` by its signature, or `undefined` when it is neither JPEG nor PNG. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  if (bytes.length >= 8 && PNG_SIGNATURE.every((value, i) => bytes[i] === value)) return "png";
  return undefined;
}

/** Largest image decoded, in pixels (guards against decompression bombs). */
export const MAX_IMAGE_PIXELS = 100_000_000;

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Refuses, from its header alone, an image declaring more than `maxPixels` pixels (or a zero
 * side); returns without reading further otherwise. Throws `ImageDecodeError`.
 */
export function checkImageHeader(bytes: Uint8Array, maxPixels = MAX_IMAGE_PIXELS): void {
  const header = readImageHeader(bytes);
  if (!header) return; // the decoder names what is wrong
  const { format, width, height } = header;
  if (width === 0 || height === 0) {
    throw new ImageDecodeError(
      `corrupt ${format.toUpperCase()}: header declares ${width}x${height}`,
    );
  }
  if (width * height > maxPixels) {
    throw new ImageDecodeError(
      `${format.toUpperCase()} header declares ${width}x${height} = ${width * height} pixels, ` +
        `more than the limit of ${maxPixels}: refused before decoding`,
    );
  }
}

/**
 * Decodes a JPEG or PNG to RGB uint8. Grayscale, grayscale+alpha, RGBA, palette and 16-bit PNGs
 * are converted to RGB8 (alpha is dropped, 16-bit samples rounded to 8 bits). An image whose
 * header declares more than `maxPixels` pixels is refused before decoding. Throws
 * `ImageDecodeError` for unknown formats and corrupt or truncated data; callers add the file name.
 */
export function decodeImage(bytes: Uint8Array, maxPixels = MAX_IMAGE_PIXELS): RgbImage {
  checkImageHeader(bytes, maxPixels);
  const format = sniffImageFormat(bytes);
  if (format === "jpeg") return decodeJpeg(bytes);
  if (format === "png") return decodePng(bytes);
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new ImageDecodeError(
    bytes.length === 0
      ? "empty file: not an image"
      : `unknown image format: not JPEG or PNG (first bytes ${head})`,
  );
}

function decodeJpeg(bytes: Uint8Array): RgbImage {
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      maxMemoryUsageInMB: 2048,
    });
  } catch (error) {
    throw new ImageDecodeError(`corrupt or truncated JPEG: ${messageOf(error)}`, { cause: error });
  }
  const { width, height, data } = decoded;
  if (!(width > 0 && height > 0) || data.length !== width * height * 3) {
    throw new ImageDecodeError(
      `corrupt JPEG: decoded ${data?.length ?? 0} bytes for ${width}x${height} RGB`,
    );
  }
  return { width, height, data };
}

function decodePng(bytes: Uint8Array): RgbImage {
  let png: fastPng.DecodedPng;
  try {
    png = fastPng.decode(bytes, { checkCrc: true });
  } catch (error) {
    throw new ImageDecodeError(`corrupt or truncated PNG: ${messageOf(error)}`, { cause: error });
  }
  const { width, height, depth, channels } = png;
  if (!(width > 0 && height > 0)) {
    throw new ImageDecodeError(`corrupt PNG: size ${width}x${height}`);
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new ImageDecodeError(`PNG too large: ${width}x${height} > ${MAX_IMAGE_PIXELS} pixels`);
  }
  const pixels = width * height;
  const out = new Uint8Array(pixels * 3);
  const data = png.data;
  if (png.palette) {
    // Indexed colour: 1, 2, 4 or 8 bits per index, rows padded to whole bytes.
    const palette = png.palette;
    const bytesPerRow = Math.ceil(width * depth / 8);
    expectLength(data.length, bytesPerRow * height, "indexed PNG");
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const index = packedSample(data, y * bytesPerRow, x, depth);
        const color = palette[index];
        if (color === undefined) {
          throw new ImageDecodeError(
            `corrupt PNG: palette index ${index} at (${x}, ${y}) outside the ${palette.length}-colour palette`,
          );
        }
        const o = (y * width + x) * 3;
        out[o] = color[0];
        out[o + 1] = color[1];
        out[o + 2] = color[2];
      }
    }
    return { width, height, data: out };
  }
  if (channels < 1 || channels > 4) {
    throw new ImageDecodeError(`unsupported PNG: ${channels} channels`);
  }
  const color = channels >= 3; // 1: gray, 2: gray+alpha, 3: RGB, 4: RGBA
  if (depth < 8) {
    // Only grayscale may have fewer than 8 bits per sample.
    const bytesPerRow = Math.ceil(width * depth / 8);
    expectLength(data.length, bytesPerRow * height, "grayscale PNG");
    const scale = 255 / ((1 << depth) - 1);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const value = Math.round(packedSample(data, y * bytesPerRow, x, depth) * scale);
        const o = (y * width + x) * 3;
        out[o] = out[o + 1] = out[o + 2] = value;
      }
    }
    return { width, height, data: out };
  }
  expectLength(data.length, pixels * channels, "PNG");
  const sixteen = depth === 16;
  for (let p = 0; p < pixels; p++) {
    const i = p * channels;
    const o = p * 3;
    if (color) {
      out[o] = sixteen ? to8(data[i]) : data[i];
      out[o + 1] = sixteen ? to8(data[i + 1]) : data[i + 1];
      out[o + 2] = sixteen ? to8(data[i + 2]) : data[i + 2];
    } else {
      const value = sixteen ? to8(data[i]) : data[i];
      out[o] = out[o + 1] = out[o + 2] = value;
    }
  }
  return { width, height, data: out };
}

function to8(value16: number): number {
  return (value16 * 255 + 32767) / 65535 | 0;
}

function packedSample(data: ArrayLike<number>, rowStart: number, x: number, depth: number): number {
  if (depth === 8) return data[rowStart + x];
  const bit = x * depth;
  const byte = data[rowStart + (bit >> 3)];
  return (byte >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
}

function expectLength(actual: number, expected: number, what: string): void {
  if (actual < expected) {
    throw new ImageDecodeError(
      `truncated ${what}: ${actual} bytes of pixel data, expected ${expected}`,
    );
  }
}

/**
 * Encodes 8-bit pixels as a PNG (through fast-png). The channel count follows from the length:
 * `width * height * c` bytes with c = 1 (gray), 3 (RGB) or 4 (RGBA).
 */
export function encodePng(pixels: Uint8Array, width: number, height: number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(
      `encodePng: width and height must be positive integers: ${width}x${height}`,
    );
  }
  const channels = pixels.length / (width * height);
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new RangeError(
      `encodePng: ${pixels.length} bytes is not ${width}x${height} x 1, 3 or 4 channels`,
    );
  }
  return fastPng.encode({ width, height, data: pixels, channels, depth: 8 });
}

/** Reads and decodes an image file; errors name the file. */
export async function readImageFile(path: string): Promise<RgbImage> {
  const bytes = await Deno.readFile(path);
  try {
    return decodeImage(bytes);
  } catch (error) {
    if (error instanceof ImageDecodeError) {
      throw new ImageDecodeError(`${path}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/**
 * Resizes an 8-bit HWC image with bilinear interpolation (half-pixel centres, as OpenCV and
 * PyTorch's `align_corners=False` without antialiasing). Returns the input when the size matches.
 */
export function resizeBilinear(
  image: { width: number; height: number; data: Uint8Array },
  width: number,
  height: number,
  channels = 3,
): { width: number; height: number; data: Uint8Array } {
  if (image.width === width && image.height === height) return image;
  const { width: inW, height: inH, data } = image;
  const out = new Uint8Array(width * height * channels);
  const sx = inW / width, sy = inH / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), inH - 1);
    const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, inH - 1), wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), inW - 1);
      const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, inW - 1), wx = fx - x0;
      const a = (y0 * inW + x0) * channels, b = (y0 * inW + x1) * channels;
      const c = (y1 * inW + x0) * channels, d = (y1 * inW + x1) * channels;
      const o = (y * width + x) * channels;
      for (let k = 0; k < channels; k++) {
        const top = data[a + k] + (data[b + k] - data[a + k]) * wx;
        const bottom = data[c + k] + (data[d + k] - data[c + k]) * wx;
        out[o + k] = Math.round(top + (bottom - top) * wy);
      }
    }
  }
  return { width, height, data: out };
}
