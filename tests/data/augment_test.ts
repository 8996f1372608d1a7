import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { gpu } from "../../src/gpu/device.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { readAll } from "../../src/tensor/tensor.ts";
import {
  augmentView,
  IMAGENET_MEAN,
  IMAGENET_STD,
  uploadImageBatch,
} from "../../src/data/augment.ts";
import { MultiCropAugmenter } from "../../src/data/multi_crop.ts";
import {
  type CropBox,
  type ImageAugmentation,
  type Interpolation,
  type JitterOperation,
  roundHalfEven,
  sampleImageAugmentation,
  sampleResizedCrop,
  SeededRandom,
  type ViewConfig,
} from "../../src/data/augment_params.ts";
import { assertClose } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

// ---------------------------------------------------------------------------------------------
// float64 CPU reference of one view (torchvision tensor semantics on float images in [0, 1])

const LUMA = [0.299, 0.587, 0.114];
const luma = (r: number, g: number, b: number) => LUMA[0] * r + LUMA[1] * g + LUMA[2] * b;
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/** Keys' cubic convolution kernel with a = -0.75 at distance x. */
function cubicKernel(x: number): number {
  const a = -0.75;
  const d = Math.abs(x);
  if (d <= 1) return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1;
  if (d < 2) return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a;
  return 0;
}

/** F.interpolate(align_corners=False, antialias=False) of a crop of one channel plane. */
function resizeCrop(
  plane: (y: number, x: number) => number,
  crop: CropBox,
  size: number,
  interpolation: Interpolation,
): Float64Array {
  const out = new Float64Array(size * size);
  const sx = crop.width / size;
  const sy = crop.height / size;
  const at = (y: number, x: number) =>
    plane(
      crop.top + Math.min(crop.height - 1, Math.max(0, y)),
      crop.left + Math.min(crop.width - 1, Math.max(0, x)),
    );
  for (let oy = 0; oy < size; oy++) {
    for (let ox = 0; ox < size; ox++) {
      let value = 0;
      if (interpolation === "bilinear") {
        const ry = Math.max(sy * (oy + 0.5) - 0.5, 0);
        const rx = Math.max(sx * (ox + 0.5) - 0.5, 0);
        const y0 = Math.floor(ry);
        const x0 = Math.floor(rx);
        const ly = ry - y0;
        const lx = rx - x0;
        value = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x0 + 1)) +
          ly * ((1 - lx) * at(y0 + 1, x0) + lx * at(y0 + 1, x0 + 1));
      } else {
        const ry = sy * (oy + 0.5) - 0.5;
        const rx = sx * (ox + 0.5) - 0.5;
        const y0 = Math.floor(ry);
        const x0 = Math.floor(rx);
        for (let ty = y0 - 1; ty <= y0 + 2; ty++) {
          for (let tx = x0 - 1; tx <= x0 + 2; tx++) {
            value += cubicKernel(ry - ty) * cubicKernel(rx - tx) * at(ty, tx);
          }
        }
        value = clamp01(value);
      }
      out[oy * size + ox] = value;
    }
  }
  return out;
}

/** colorsys-style RGB -> HSV -> RGB with the hue shifted (torchvision's adjust_hue). */
function shiftHue(r: number, g: number, b: number, shift: number): [number, number, number] {
  const maxc = Math.max(r, g, b);
  const minc = Math.min(r, g, b);
  if (maxc === minc) return [r, g, b];
  const v = maxc;
  const s = (maxc - minc) / maxc;
  const rc = (maxc - r) / (maxc - minc);
  const gc = (maxc - g) / (maxc - minc);
  const bc = (maxc - b) / (maxc - minc);
  let h = r === maxc ? bc - gc : g === maxc ? 2 + rc - bc : 4 + gc - rc;
  h = (((h / 6) % 1) + 1) % 1;
  h = (((h + shift) % 1) + 1) % 1;
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - s * f);
  const t = v * (1 - s * (1 - f));
  switch (i % 6) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

/** One-dimensional Gaussian of `sigma` (taps -ceil(3 sigma)..) along rows or columns, edges replicated. */
function blurPlane(plane: Float64Array, size: number, sigma: number, alongRows: boolean) {
  const radius = Math.ceil(3 * sigma);
  const weights = Array.from(
    { length: 2 * radius + 1 },
    (_, k) => Math.exp(-((k - radius) ** 2) / (2 * sigma * sigma)),
  );
  const total = weights.reduce((sum, w) => sum + w, 0);
  const out = new Float64Array(plane.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let value = 0;
      for (let k = -radius; k <= radius; k++) {
        const yy = alongRows ? y : Math.min(size - 1, Math.max(0, y + k));
        const xx = alongRows ? Math.min(size - 1, Math.max(0, x + k)) : x;
        value += weights[k + radius] * plane[yy * size + xx];
      }
      out[y * size + x] = value / total;
    }
  }
  return out;
}

interface ReferenceResult {
  values: Float64Array;
  /** Elements whose solarisation decision sits within 1e-5 of the threshold (either is right). */
  ambiguous: boolean[];
}

/** The whole view on the CPU in float64: [batch, 3, size, size]. */
function referenceView(
  pixels: Uint8Array,
  height: number,
  width: number,
  images: ImageAugmentation[],
  size: number,
  interpolation: Interpolation,
): ReferenceResult {
  const planeSize = size * size;
  const values = new Float64Array(images.length * 3 * planeSize);
  const ambiguous: boolean[] = new Array(values.length).fill(false);
  images.forEach((image, b) => {
    // crop + resize per channel, then flip
    const channels = [0, 1, 2].map((c) => {
      const resized = resizeCrop(
        (y, x) => pixels[((b * height + y) * width + x) * 3 + c] / 255,
        image.crop,
        size,
        interpolation,
      );
      if (!image.flip) return resized;
      const flipped = new Float64Array(planeSize);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) flipped[y * size + x] = resized[y * size + size - 1 - x];
      }
      return flipped;
    });
    const [r, g, bl] = channels;
    for (const operation of image.jitter.order) {
      if (operation === "contrast") {
        let mean = 0;
        for (let p = 0; p < planeSize; p++) mean += luma(r[p], g[p], bl[p]);
        mean /= planeSize;
        const f = image.jitter.contrast;
        for (const ch of channels) {
          for (let p = 0; p < planeSize; p++) ch[p] = clamp01(f * ch[p] + (1 - f) * mean);
        }
      }
      for (let p = 0; p < planeSize; p++) {
        if (operation === "brightness") {
          for (const ch of channels) ch[p] = clamp01(image.jitter.brightness * ch[p]);
        } else if (operation === "saturation") {
          const gray = luma(r[p], g[p], bl[p]);
          const f = image.jitter.saturation;
          for (const ch of channels) ch[p] = clamp01(f * ch[p] + (1 - f) * gray);
        } else if (operation === "hue") {
          [r[p], g[p], bl[p]] = shiftHue(r[p], g[p], bl[p], image.jitter.hue);
        }
      }
    }
    if (image.grayscale) {
      for (let p = 0; p < planeSize; p++) r[p] = g[p] = bl[p] = luma(r[p], g[p], bl[p]);
    }
    channels.forEach((plane, c) => {
      let result = plane;
      if (image.blurSigma > 0) {
        result = blurPlane(
          blurPlane(plane, size, image.blurSigma, true),
          size,
          image.blurSigma,
          false,
        );
      }
      for (let p = 0; p < planeSize; p++) {
        let v = result[p];
        const index = (b * 3 + c) * planeSize + p;
        if (image.solarize) {
          if (Math.abs(v - 128 / 255) < 1e-5) ambiguous[index] = true;
          if (v >= 128 / 255) v = 1 - v;
        }
        values[index] = (v - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
      }
    });
  });
  return { values, ambiguous };
}

// ---------------------------------------------------------------------------------------------

const BATCH = 2;
const HEIGHT = 13;
const WIDTH = 17;

function randomPixels(seed: number, count = BATCH * HEIGHT * WIDTH * 3): Uint8Array {
  const random = new Random(seed);
  return Uint8Array.from({ length: count }, () => random.int(256));
}

const PIXELS = randomPixels(11);

function plain(crop: CropBox, overrides: Partial<ImageAugmentation> = {}): ImageAugmentation {
  return {
    crop,
    flip: false,
    jitter: { order: [], brightness: 1, contrast: 1, saturation: 1, hue: 0 },
    grayscale: false,
    blurSigma: 0,
    solarize: false,
    ...overrides,
  };
}

function jitter(
  order: JitterOperation[],
  factors: Partial<{ brightness: number; contrast: number; saturation: number; hue: number }>,
) {
  return { order, brightness: 1, contrast: 1, saturation: 1, hue: 0, ...factors };
}

const DOWN: CropBox = { top: 1, left: 2, height: 11, width: 15 };
const UP: CropBox = { top: 4, left: 9, height: 5, width: 6 };

async function checkView(
  name: string,
  images: ImageAugmentation[],
  size: number,
  interpolation: Interpolation = "bilinear",
  pixels = PIXELS,
) {
  const source = uploadImageBatch(pixels, images.length, HEIGHT, WIDTH);
  const output = augmentView(source, images, HEIGHT, WIDTH, { size, interpolation });
  assertEquals(output.shape, [images.length, 3, size, size]);
  const actual = Array.from(await output.read());
  source.dispose();
  output.dispose();
  const expected = referenceView(pixels, HEIGHT, WIDTH, images, size, interpolation);
  const wanted = Array.from(expected.values, (v, i) => expected.ambiguous[i] ? actual[i] : v);
  assertClose(actual, wanted, name, { absolute: 1e-4, relative: 1e-4 });
  return actual;
}

gpuTest("augment: identity crop is pixel / 255 normalised with ImageNet statistics", async () => {
  const crop = { top: 0, left: 2, height: 13, width: 13 };
  const actual = await checkView("identity", [plain(crop), plain(crop)], 13);
  // independent of the reference: straight from the bytes
  const expected: number[] = [];
  for (let b = 0; b < BATCH; b++) {
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 13; y++) {
        for (let x = 0; x < 13; x++) {
          const byte = PIXELS[((b * HEIGHT + y) * WIDTH + x + 2) * 3 + c];
          expected.push((byte / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]);
        }
      }
    }
  }
  assertClose(actual, expected, "identity vs bytes", { absolute: 1e-5 });
});

for (const interpolation of ["bilinear", "bicubic"] as const) {
  gpuTest(`augment: crop + resize ${interpolation} (down- and upsampling)`, async () => {
    await checkView(`${interpolation} down`, [plain(DOWN), plain(UP)], 7, interpolation);
    await checkView(`${interpolation} up`, [plain(UP), plain(DOWN)], 9, interpolation);
  });
}

gpuTest("augment: horizontal flip mirrors the crop", async () => {
  const flipped = await checkView("flip", [plain(DOWN, { flip: true }), plain(UP)], 8);
  const straight = await checkView("no flip", [plain(DOWN), plain(UP)], 8);
  const plane = 64;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const a = flipped[c * plane + y * 8 + x];
        const b = straight[c * plane + y * 8 + 7 - x];
        assertTrue(Math.abs(a - b) < 1e-5, `flip at channel ${c} (${y}, ${x}): ${a} vs ${b}`);
      }
    }
  }
  // the second image was not flipped
  assertEquals(flipped.slice(3 * plane), straight.slice(3 * plane));
});

gpuTest("augment: each colour jitter operation alone", async () => {
  const cases: [JitterOperation, number, number][] = [
    ["brightness", 1.35, 0.62],
    ["contrast", 1.4, 0.6],
    ["saturation", 1.2, 0.8],
    ["hue", 0.1, -0.08],
  ];
  for (const [operation, first, second] of cases) {
    await checkView(operation, [
      plain(UP, { jitter: jitter([operation], { [operation]: first }) }),
      plain(DOWN, { jitter: jitter([operation], { [operation]: second }) }),
    ], 9);
  }
  // large hue shifts wrap around the colour circle
  await checkView("hue wrap", [
    plain(DOWN, { jitter: jitter(["hue"], { hue: 0.5 }) }),
    plain(UP, { jitter: jitter(["hue"], { hue: -0.45 }) }),
  ], 6);
});

gpuTest("augment: jitter in a random order (contrast mean after other operations)", async () => {
  const factors = { brightness: 1.3, contrast: 0.7, saturation: 1.15, hue: 0.07 };
  await checkView(
    "orders",
    [
      plain(UP, { jitter: jitter(["hue", "saturation", "brightness", "contrast"], factors) }),
      plain(DOWN, {
        jitter: jitter(["contrast", "brightness", "hue", "saturation"], {
          ...factors,
          contrast: 1.38,
          brightness: 0.66,
        }),
      }),
    ],
    10,
    "bicubic",
  );
});

gpuTest("augment: grayscale, blur, solarise", async () => {
  await checkView("grayscale", [plain(DOWN, { grayscale: true }), plain(UP)], 7);
  await checkView("blur", [
    plain(DOWN, { blurSigma: 0.7 }),
    plain(UP, { blurSigma: 1.6 }),
  ], 11);
  await checkView("blur one image", [plain(DOWN), plain(UP, { blurSigma: 0.35 })], 9);
  const identity = { top: 0, left: 0, height: 13, width: 13 };
  // bytes at the threshold: 128 and above are inverted (PIL's solarize(threshold=128))
  const edge = Uint8Array.from(
    { length: HEIGHT * WIDTH * 3 },
    (_, index) => [127, 128, 129, 0, 255][index % 5],
  );
  const source = uploadImageBatch(edge, 1, HEIGHT, WIDTH);
  const output = augmentView(source, [plain(identity, { solarize: true })], HEIGHT, WIDTH, {
    size: 13,
    interpolation: "bilinear",
  });
  const solarized = await output.read();
  source.dispose();
  output.dispose();
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < 13 * 13; p++) {
      const byte = edge[(Math.floor(p / 13) * WIDTH + (p % 13)) * 3 + c];
      const value = byte >= 128 ? 1 - byte / 255 : byte / 255;
      const expected = (value - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
      const got = solarized[c * 169 + p];
      assertTrue(Math.abs(got - expected) < 1e-5, `solarise byte ${byte}: ${got} vs ${expected}`);
    }
  }
  await checkView("solarise", [
    plain(identity, { solarize: true }),
    plain(DOWN, { solarize: true }),
  ], 13);
});

gpuTest("augment: everything at once, bicubic", async () => {
  const factors = { brightness: 0.8, contrast: 1.25, saturation: 0.9, hue: -0.06 };
  await checkView(
    "combined",
    [
      {
        crop: DOWN,
        flip: true,
        jitter: jitter(["saturation", "contrast", "hue", "brightness"], factors),
        grayscale: false,
        blurSigma: 1.1,
        solarize: true,
      },
      {
        crop: UP,
        flip: false,
        jitter: jitter(["brightness", "hue", "contrast", "saturation"], factors),
        grayscale: true,
        blurSigma: 0.4,
        solarize: false,
      },
    ],
    12,
    "bicubic",
  );
});

gpuTest("augment: bad inputs say what failed", () => {
  assertThrows(() => uploadImageBatch(new Uint8Array(10), 1, 2, 2), ShapeError, "10 bytes");
  const source = uploadImageBatch(PIXELS, BATCH, HEIGHT, WIDTH);
  assertThrows(
    () =>
      augmentView(source, [plain({ top: 5, left: 0, height: 10, width: 4 })], HEIGHT, WIDTH, {
        size: 4,
      }),
    ShapeError,
    "not inside the 13 x 17 image",
  );
  source.dispose();
});

// ---------------------------------------------------------------------------------------------
// parameter sampler

gpuTest("augment params: crop sampler statistics and fallback", () => {
  assertEquals([0.5, 1.5, 2.5, 3.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 4, -2, 2, 3]);
  const random = new SeededRandom(3);
  const height = 48;
  const width = 64;
  for (let draw = 0; draw < 2000; draw++) {
    const crop = sampleResizedCrop(random, height, width, [0.05, 0.4]);
    assertTrue(
      crop.top >= 0 && crop.top + crop.height <= height,
      `crop rows ${JSON.stringify(crop)}`,
    );
    assertTrue(
      crop.left >= 0 && crop.left + crop.width <= width,
      `crop columns ${JSON.stringify(crop)}`,
    );
    const area = (crop.height * crop.width) / (height * width);
    const ratio = crop.width / crop.height;
    // rounding of the sides moves the area and the ratio a little
    assertTrue(area > 0.05 * 0.8 && area < 0.4 * 1.1, `area ${area}`);
    const slack = 1 / crop.height + 1 / crop.width;
    assertTrue(ratio > 0.75 * (1 - slack) && ratio < (4 / 3) * (1 + slack), `ratio ${ratio}`);
  }
  // impossible scale: torchvision's centre crop, clamped to the ratio range
  assertEquals(sampleResizedCrop(random, 100, 20, [2, 3]), {
    top: 36,
    left: 0,
    height: 27,
    width: 20,
  });
  assertEquals(sampleResizedCrop(random, 10, 40, [2, 3]), {
    top: 0,
    left: 13,
    height: 10,
    width: 13,
  });
  assertEquals(sampleResizedCrop(random, 30, 36, [2, 3]), {
    top: 0,
    left: 0,
    height: 30,
    width: 36,
  });
});

gpuTest("augment params: probabilities of flip, jitter, grayscale, blur, solarise", () => {
  const random = new SeededRandom(9);
  const view: ViewConfig = {
    size: 8,
    scale: [0.4, 1],
    blurProbability: 0.5,
    solarizeProbability: 0.2,
  };
  const draws = Array.from({ length: 2000 }, () => sampleImageAugmentation(random, view, 32, 32));
  const share = (test: (image: ImageAugmentation) => boolean) =>
    draws.filter(test).length / draws.length;
  const near = (value: number, target: number, what: string) =>
    assertTrue(Math.abs(value - target) < 0.045, `${what}: ${value}, expected about ${target}`);
  near(share((image) => image.flip), 0.5, "flip");
  near(share((image) => image.jitter.order.length > 0), 0.8, "jitter");
  near(share((image) => image.grayscale), 0.2, "grayscale");
  near(share((image) => image.blurSigma > 0), 0.5, "blur");
  near(share((image) => image.solarize), 0.2, "solarise");
  const orders = new Set<string>();
  for (const image of draws) {
    if (image.blurSigma > 0) {
      assertTrue(image.blurSigma >= 0.1 && image.blurSigma <= 2, `sigma ${image.blurSigma}`);
    }
    const { order, brightness, contrast, saturation, hue } = image.jitter;
    if (order.length === 0) continue;
    assertEquals([...order].sort(), ["brightness", "contrast", "hue", "saturation"]);
    orders.add(order.join(","));
    assertTrue(brightness >= 0.6 && brightness <= 1.4, `brightness ${brightness}`);
    assertTrue(contrast >= 0.6 && contrast <= 1.4, `contrast ${contrast}`);
    assertTrue(saturation >= 0.8 && saturation <= 1.2, `saturation ${saturation}`);
    assertTrue(hue >= -0.1 && hue <= 0.1, `hue ${hue}`);
  }
  assertEquals(orders.size, 24, "every order of the four jitter operations appears");
  // the global-1 view: blur always, never solarise
  const always = Array.from(
    { length: 200 },
    () => sampleImageAugmentation(random, { size: 8, scale: [0.4, 1], blurProbability: 1 }, 32, 32),
  );
  assertTrue(always.every((image) => image.blurSigma > 0 && !image.solarize));
});

gpuTest("augment params: the generator is seeded and its state restores", () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const c = new SeededRandom(43);
  const first = Array.from({ length: 8 }, () => a.nextUint32());
  assertEquals(Array.from({ length: 8 }, () => b.nextUint32()), first);
  assertTrue(Array.from({ length: 8 }, () => c.nextUint32()).some((v, i) => v !== first[i]));
  const saved = a.state;
  const next = a.next();
  a.state = saved;
  assertEquals(a.next(), next);
  let sum = 0;
  for (let i = 0; i < 10000; i++) sum += a.next();
  assertTrue(Math.abs(sum / 10000 - 0.5) < 0.02, `mean of uniforms ${sum / 10000}`);
});

// ---------------------------------------------------------------------------------------------
// multi-crop

gpuTest("multi-crop: output matches the reference of the drawn parameters", async () => {
  const config = { globalSize: 10, localSize: 6, localCrops: 2 };
  const augmenter = new MultiCropAugmenter(config, 17);
  const twin = new MultiCropAugmenter(config, 17);
  const drawn = twin.sample(BATCH, HEIGHT, WIDTH);
  const source = uploadImageBatch(PIXELS, BATCH, HEIGHT, WIDTH);
  const { globals, locals } = augmenter.augment(source, BATCH, HEIGHT, WIDTH);
  const views = [...globals, ...locals];
  const results = await readAll(views);
  results.forEach((actual, index) => {
    const size = index < 2 ? 10 : 6;
    const expected = referenceView(PIXELS, HEIGHT, WIDTH, drawn[index], size, "bicubic");
    const wanted = Array.from(expected.values, (v, i) => expected.ambiguous[i] ? actual[i] : v);
    assertClose(actual, wanted, `view ${index}`, { absolute: 1e-4, relative: 1e-4 });
  });
  for (const view of views) view.dispose();
  source.dispose();
  augmenter.dispose();
  twin.dispose();
});

gpuTest(
  "multi-crop: shapes, determinism by seed, no allocation or readback in steady state",
  async () => {
    const pixels = randomPixels(5, 3 * 28 * 28 * 3);
    const source = uploadImageBatch(pixels, 3, 28, 28);
    const run = async (augmenter: MultiCropAugmenter) => {
      const { globals, locals } = augmenter.augment(source, 3, 28, 28);
      const data = await readAll([...globals, ...locals]);
      for (const view of [...globals, ...locals]) view.dispose();
      return data;
    };
    const a = MultiCropAugmenter.smallData(28, 8, 1);
    const b = MultiCropAugmenter.smallData(28, 8, 1);
    const c = MultiCropAugmenter.smallData(28, 8, 2);
    const shapes = a.augment(source, 3, 28, 28);
    assertEquals(shapes.globals.map((t) => t.shape), [[3, 3, 28, 28], [3, 3, 28, 28]]);
    assertEquals(shapes.locals.length, 8);
    for (const local of shapes.locals) assertEquals(local.shape, [3, 3, 14, 14]);
    for (const view of [...shapes.globals, ...shapes.locals]) view.dispose();
    await run(b); // keeps b's draws in step with a's
    const [fromA, fromB, fromC] = [await run(a), await run(b), await run(c)];
    fromA.forEach((view, index) => assertEquals(Array.from(view), Array.from(fromB[index])));
    assertTrue(fromA[0].some((v, i) => v !== fromC[0][i]), "another seed gives other crops");

    // steady state: after warm-up calls, an augment allocates nothing and reads nothing back
    await run(a);
    await run(a);
    const pool = gpu().pool.counters;
    const allocations = pool.allocations;
    const readbacks = gpu().counters.readbacks;
    const { globals, locals } = a.augment(source, 3, 28, 28);
    assertEquals(gpu().counters.readbacks, readbacks, "augment reads nothing back");
    for (const view of [...globals, ...locals]) view.dispose();
    assertEquals(pool.allocations, allocations, "augment allocates no buffer in steady state");

    const dino = new MultiCropAugmenter({ globalSize: 16, localSize: 8, localCrops: 3 }, 4);
    const smallSource = uploadImageBatch(PIXELS, BATCH, HEIGHT, WIDTH);
    const small = dino.augment(smallSource, BATCH, HEIGHT, WIDTH);
    assertEquals(small.globals.map((t) => t.shape), [[2, 3, 16, 16], [2, 3, 16, 16]]);
    assertEquals(small.locals.map((t) => t.shape), [[2, 3, 8, 8], [2, 3, 8, 8], [2, 3, 8, 8]]);
    for (const view of [...small.globals, ...small.locals]) view.dispose();
    for (const augmenter of [a, b, c, dino]) augmenter.dispose();
    source.dispose();
    smallSource.dispose();
  },
);
