/**
 * The page's files: what a dropped or picked file is (image, weights, config.json), reading one
 * with progress (a `File` or a `fetch` response, streamed into one buffer), and decoding an image
 * into RGBA pixels. Nothing leaves the page: files are read locally, the sample is fetched from the
 * page's own folder.
 * @module
 */
/// <reference lib="dom" />
import type { RgbaImage } from "../../src/browser.ts";

/** What a file is to the page. */
export type FileRole = "image" | "config" | "weights";

const IMAGE_EXTENSIONS = /\.(png|jpe?g|gif|webp|bmp|avif|ico)$/i;

/** The role of a file by its type and name: images, `*.json` configs, and weights otherwise. */
export function fileRole(file: { name: string; type: string }): FileRole {
  if (file.type.startsWith("image/") || IMAGE_EXTENSIONS.test(file.name)) return "image";
  if (file.type === "application/json" || /\.json$/i.test(file.name)) return "config";
  return "weights";
}

/** Called while bytes arrive: bytes so far, and the total when known. */
export type Progress = (loaded: number, total: number | undefined) => void;

/** Reads a stream into one buffer (preallocated when the total is known), reporting progress. */
async function readStream(
  stream: ReadableStream<Uint8Array>,
  total: number | undefined,
  progress: Progress,
): Promise<Uint8Array> {
  const reader = stream.getReader();
  let buffer = new Uint8Array(total ?? 1 << 20);
  let loaded = 0;
  let last = 0;
  progress(0, total);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > buffer.length) {
      const grown = new Uint8Array(Math.max(buffer.length * 2, loaded + value.length));
      grown.set(buffer.subarray(0, loaded));
      buffer = grown;
    }
    buffer.set(value, loaded);
    loaded += value.length;
    const now = performance.now();
    if (now - last > 50) {
      last = now;
      progress(loaded, total);
    }
  }
  progress(loaded, total);
  return loaded === buffer.length ? buffer : buffer.subarray(0, loaded);
}

/** A file's bytes, read in chunks so that `progress` can follow a large one. */
export function readFile(file: File, progress: Progress): Promise<Uint8Array> {
  return readStream(file.stream(), file.size, progress);
}

/** The bytes at `url` (the page's own folder), with progress; errors say what failed. */
export async function fetchBytes(url: string, progress: Progress): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok || !response.body) {
    throw new Error(`${url}: the server answered ${response.status} ${response.statusText}`);
  }
  const length = Number(response.headers.get("content-length"));
  return readStream(response.body, length > 0 ? length : undefined, progress);
}

/** A decoded image: its bitmap to draw, and its RGBA pixels for the model. */
export interface DecodedImage {
  /** The file's name. */
  name: string;
  /** The bitmap (drawn under the overlays). */
  bitmap: ImageBitmap;
  /** Its pixels, without colour conversion. */
  rgba: RgbaImage;
}

/** Decodes image bytes into a bitmap and RGBA pixels; errors say the browser could not decode. */
export async function decodeImage(name: string, blob: Blob): Promise<DecodedImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, {
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
  } catch (error) {
    throw new Error(
      `this browser cannot decode it as an image (${(error as Error).message}); ` +
        `PNG, JPEG, GIF, WebP and BMP files work`,
    );
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d")!;
  context.drawImage(bitmap, 0, 0);
  const data = context.getImageData(0, 0, bitmap.width, bitmap.height);
  return { name, bitmap, rgba: { width: data.width, height: data.height, data: data.data } };
}

/** Bytes as "12.3 MB" (or "845 kB", "12 bytes"). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} bytes`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(0)} kB`;
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
