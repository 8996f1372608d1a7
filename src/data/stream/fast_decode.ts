/**
 * The decoder of the crop workers, chosen by measurement: sharp (libvips + libjpeg-turbo, native)
 * when it loads, the pure-JS `decodeImage` (jpeg-js, fast-png) otherwise (a compiled binary or a
 * bundle without the native addon). Measured here on 300-800 px JPEGs: sharp 8 ms per image,
 * @jsquash/jpeg (WASM) 71 ms, jpeg-js 330 ms (2 cores under load; bench/decode_bench.ts).
 * Either way the header's pixel count is checked before decoding.
 * @module
 */
import { checkImageHeader, decodeImage, ImageDecodeError, type RgbImage } from "../../io/image.ts";

type Sharp = typeof import("sharp").default;

let sharpModule: Promise<Sharp | undefined> | undefined;

/** sharp, one libvips thread per caller (the pool's workers are the parallelism), or undefined. */
function loadSharp(): Promise<Sharp | undefined> {
  // a computed specifier: bundlers leave it alone (a bundle without the addon uses the JS path)
  const specifier = ["sh", "arp"].join("");
  sharpModule ??= (import(specifier) as Promise<typeof import("sharp")>).then((module) => {
    const sharp = module.default;
    sharp.concurrency(1);
    sharp.cache(false);
    return sharp;
  }).catch(() => undefined);
  return sharpModule;
}

/** Which decoder `decodeFast` uses in this process: "sharp" or "js". */
export async function fastDecoderName(): Promise<"sharp" | "js"> {
  return (await loadSharp()) ? "sharp" : "js";
}

/**
 * Decodes a JPEG or PNG to RGB uint8 with the fastest decoder available (see the module doc);
 * refuses an image whose header declares more than `maxPixels` before decoding. Throws
 * `ImageDecodeError`.
 */
export async function decodeFast(bytes: Uint8Array, maxPixels: number): Promise<RgbImage> {
  checkImageHeader(bytes, maxPixels);
  const sharp = await loadSharp();
  if (!sharp) return decodeImage(bytes, maxPixels);
  let decoded;
  try {
    decoded = await sharp(bytes, { limitInputPixels: maxPixels, failOn: "error" })
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    // the JS decoders name the problem the same way for every file (corrupt, truncated, format)
    try {
      return decodeImage(bytes, maxPixels);
    } catch (jsError) {
      throw jsError instanceof ImageDecodeError
        ? jsError
        : new ImageDecodeError((error as Error).message);
    }
  }
  const { width, height, channels } = decoded.info;
  const data = new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.length);
  if (channels === 3) return { width, height, data };
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0, i = 0; p < width * height; p++, i += channels) {
    const gray = channels <= 2;
    rgb[3 * p] = data[i];
    rgb[3 * p + 1] = gray ? data[i] : data[i + 1];
    rgb[3 * p + 2] = gray ? data[i] : data[i + 2];
  }
  return { width, height, data: rgb };
}
