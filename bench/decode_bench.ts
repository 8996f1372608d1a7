/**
 * Image decode speed of the candidate codecs (DESIGN.md, "Images").
 *
 * Run: `deno bench -A bench/decode_bench.ts`
 *
 * The test images are made here (smooth gradients, discs and mild noise, like a photo compresses),
 * at 224x224 and 500x375; the JPEGs are written by sharp (libjpeg-turbo, quality 90, 4:2:0 as
 * cameras and the web use) and the PNGs by fast-png (RGB, 8 bit).
 */
import sharp from "sharp";
import jpeg from "jpeg-js";
import * as fastPng from "fast-png";
import { decode as jsquashJpegDecode } from "@jsquash/jpeg";
import { decodeImage } from "../src/io/image.ts";

function photoLike(width: number, height: number, seed: number): Uint8Array {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const discs = Array.from({ length: 12 }, () => ({
    x: random() * width,
    y: random() * height,
    r: (0.05 + random() * 0.25) * Math.min(width, height),
    color: [random() * 255, random() * 255, random() * 255],
  }));
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 255 * x / width, g = 255 * y / height, b = 128 + 100 * Math.sin(x / 17 + y / 23);
      for (const d of discs) {
        const dist = Math.hypot(x - d.x, y - d.y);
        if (dist < d.r) {
          const t = 0.6 + 0.4 * (1 - dist / d.r);
          r = d.color[0] * t;
          g = d.color[1] * t;
          b = d.color[2] * t;
        }
      }
      const noise = (random() - 0.5) * 16;
      const i = (y * width + x) * 3;
      out[i] = Math.max(0, Math.min(255, r + noise));
      out[i + 1] = Math.max(0, Math.min(255, g + noise));
      out[i + 2] = Math.max(0, Math.min(255, b + noise));
    }
  }
  return out;
}

const sizes: [number, number][] = [[224, 224], [500, 375]];
for (const [width, height] of sizes) {
  const rgb = photoLike(width, height, width * 31 + height);
  const jpegBytes = new Uint8Array(
    await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer(),
  );
  const pngBytes = fastPng.encode({ width, height, data: rgb, channels: 3, depth: 8 });
  const name = `${width}x${height}`;
  console.log(`${name}: jpeg ${jpegBytes.length} bytes, png ${pngBytes.length} bytes`);

  Deno.bench({ name: `jpeg ${name} sharp`, group: `jpeg ${name}`, baseline: true }, async () => {
    await sharp(jpegBytes).removeAlpha().raw().toBuffer();
  });
  Deno.bench({ name: `jpeg ${name} jpeg-js`, group: `jpeg ${name}` }, () => {
    jpeg.decode(jpegBytes, { useTArray: true, formatAsRGBA: false });
  });
  Deno.bench({ name: `jpeg ${name} @jsquash/jpeg (wasm)`, group: `jpeg ${name}` }, async () => {
    await jsquashJpegDecode(jpegBytes.slice().buffer);
  });
  Deno.bench({ name: `jpeg ${name} decodeImage (kept)`, group: `jpeg ${name}` }, () => {
    decodeImage(jpegBytes);
  });
  Deno.bench({ name: `png ${name} sharp`, group: `png ${name}`, baseline: true }, async () => {
    await sharp(pngBytes).removeAlpha().raw().toBuffer();
  });
  Deno.bench({ name: `png ${name} fast-png`, group: `png ${name}` }, () => {
    fastPng.decode(pngBytes);
  });
  Deno.bench({ name: `png ${name} decodeImage (kept)`, group: `png ${name}` }, () => {
    decodeImage(pngBytes);
  });
}
