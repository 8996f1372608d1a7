/**
 * Image codec tests. Fixtures in tests/fixtures/images were written once with sharp (JPEG, palette
 * PNG) and fast-png (other PNGs) from the patterns rebuilt below.
 */
import { assertEquals, assertThrows, assertTrue as assert } from "../helpers/assert.ts";
import {
  decodeImage,
  encodePng,
  ImageDecodeError,
  readImageFile,
  resizeBilinear,
  sniffImageFormat,
} from "../../src/io/image.ts";

const FIXTURES = new URL("../fixtures/images/", import.meta.url);
const W = 8, H = 6;

function fixture(name: string): Uint8Array {
  return Deno.readFileSync(new URL(name, FIXTURES));
}

/** The 8x6 RGB pattern the PNG fixtures hold: (x * 30, y * 40, (x + y) * 15). */
function pattern(): Uint8Array {
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) out.set([x * 30, y * 40, (x + y) * 15], (y * W + x) * 3);
  }
  return out;
}

function grayPattern(): Uint8Array {
  const out = new Uint8Array(W * H * 3);
  for (let p = 0; p < W * H; p++) out.fill(p * 5, p * 3, p * 3 + 3);
  return out;
}

function seededBytes(count: number, seed: number): Uint8Array {
  const out = new Uint8Array(count);
  let s = seed;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

Deno.test("encodePng -> decodeImage round-trips RGB, RGBA and gray pixels", () => {
  for (const [width, height] of [[1, 1], [7, 5], [33, 17]]) {
    const rgb = seededBytes(width * height * 3, width * 7 + height);
    const decoded = decodeImage(encodePng(rgb, width, height));
    assertEquals([decoded.width, decoded.height], [width, height]);
    assertEquals(decoded.data, rgb);

    const rgba = seededBytes(width * height * 4, width + 99);
    const fromRgba = decodeImage(encodePng(rgba, width, height)).data;
    for (let p = 0; p < width * height; p++) {
      assertEquals(Array.from(fromRgba.subarray(p * 3, p * 3 + 3)), [
        rgba[p * 4],
        rgba[p * 4 + 1],
        rgba[p * 4 + 2],
      ]);
    }

    const gray = seededBytes(width * height, height + 5);
    const fromGray = decodeImage(encodePng(gray, width, height)).data;
    for (let p = 0; p < width * height; p++) {
      assertEquals(Array.from(fromGray.subarray(p * 3, p * 3 + 3)), [gray[p], gray[p], gray[p]]);
    }
  }
});

Deno.test("encodePng rejects a length that is no whole channel count", () => {
  assertThrows(() => encodePng(new Uint8Array(10), 2, 2), RangeError, "1, 3 or 4 channels");
  assertThrows(() => encodePng(new Uint8Array(0), 0, 2), RangeError, "positive integers");
});

Deno.test("PNG fixtures of every colour type decode to RGB8", () => {
  const rgb = pattern();
  assertEquals(decodeImage(fixture("rgba8.png")).data, rgb);
  assertEquals(decodeImage(fixture("gray8.png")).data, grayPattern());
  assertEquals(decodeImage(fixture("gray_alpha8.png")).data, grayPattern());
  // 16-bit: red was written as r * 257 + 100, which rounds back to r.
  assertEquals(decodeImage(fixture("rgb16.png")).data, rgb);

  const palette = decodeImage(fixture("palette2.png"));
  const colors = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      assertEquals(Array.from(palette.data.subarray(i, i + 3)), colors[(x + 2 * y) % 4]);
    }
  }

  const bits = decodeImage(fixture("gray1.png"));
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const on = (x + y) % 2 === 0;
      assertEquals(bits.data[(y * W + x) * 3 + 1], on ? 255 : 0, `gray1 at (${x}, ${y})`);
    }
  }
});

Deno.test("JPEG fixtures decode within JPEG tolerance", () => {
  const image = decodeImage(fixture("quadrants.jpg"));
  assertEquals([image.width, image.height], [16, 16]);
  const colors = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
  let worst = 0;
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 16; x++) {
      const expected = colors[(y >= 8 ? 2 : 0) + (x >= 8 ? 1 : 0)];
      for (let k = 0; k < 3; k++) {
        worst = Math.max(worst, Math.abs(image.data[(y * 16 + x) * 3 + k] - expected[k]));
      }
    }
  }
  assert(worst <= 12, `max |diff| ${worst} > 12`);

  const gray = decodeImage(fixture("gray8.jpg"));
  const expected = grayPattern();
  let grayWorst = 0;
  for (let i = 0; i < expected.length; i++) {
    grayWorst = Math.max(grayWorst, Math.abs(gray.data[i] - expected[i]));
  }
  assert(grayWorst <= 6, `gray JPEG max |diff| ${grayWorst} > 6`);
});

Deno.test("corrupt, truncated and unknown bytes raise ImageDecodeError naming the problem", () => {
  assertThrows(() => decodeImage(new Uint8Array(0)), ImageDecodeError, "empty");
  assertThrows(
    () => decodeImage(new TextEncoder().encode("GIF89a....")),
    ImageDecodeError,
    "unknown image format",
  );
  const png = encodePng(seededBytes(20 * 20 * 3, 3), 20, 20);
  assertThrows(() => decodeImage(png.subarray(0, png.length - 30)), ImageDecodeError, "PNG");
  const flipped = png.slice();
  flipped[60] ^= 0xff; // inside IDAT: CRC mismatch or inflate error
  assertThrows(() => decodeImage(flipped), ImageDecodeError, "PNG");
  const jpg = fixture("quadrants.jpg");
  assertThrows(() => decodeImage(jpg.subarray(0, 120)), ImageDecodeError, "JPEG");
  assertThrows(() => decodeImage(jpg.subarray(0, 3)), ImageDecodeError, "JPEG");
  assertEquals(sniffImageFormat(jpg), "jpeg");
  assertEquals(sniffImageFormat(png), "png");
});

Deno.test("readImageFile names the file in its errors", async () => {
  const path = await Deno.makeTempFile({ suffix: ".png" });
  try {
    await Deno.writeFile(path, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1]));
    const error = await readImageFile(path).then(() => undefined, (e) => e);
    assert(error instanceof ImageDecodeError);
    assert(error.message.startsWith(path), error.message);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("resizeBilinear keeps flat images flat and matches a hand computation", () => {
  const flat = { width: 5, height: 3, data: new Uint8Array(45).fill(77) };
  assertEquals(resizeBilinear(flat, 9, 4).data, new Uint8Array(9 * 4 * 3).fill(77));
  // 2x1 -> 4x1, one channel: centres at 0.25, 0.75 -> x' = -0.25, 0.25, 0.75, 1.25 (clamped).
  const line = { width: 2, height: 1, data: new Uint8Array([0, 100]) };
  assertEquals(Array.from(resizeBilinear(line, 4, 1, 1).data), [0, 25, 75, 100]);
  assertEquals(resizeBilinear(flat, 5, 3), flat);
});
