// Streamed sources: the folder and list index, the worker-cut crops (the same whichever worker
// cuts them, equal to Pillow's resize of the drawn box), bad files skipped and named, images
// refused from their header, and a resumed epoch that continues with the very same batches.
import jpeg from "jpeg-js";
import { decodeImage, encodePng } from "../../src/io/image.ts";
import { readImageHeader } from "../../src/io/image_header.ts";
import { sampleResizedCrop, SeededRandom } from "../../src/data/augment_params.ts";
import { resizeCropBicubic } from "../../src/data/pil_resize.ts";
import { DataSpecError, loadDataSpec } from "../../src/data/spec.ts";
import { runCropJob } from "../../src/data/stream/crop_job.ts";
import { decodeFast } from "../../src/data/stream/fast_decode.ts";
import {
  IndexedImages,
  indexImageFolder,
  indexImageList,
} from "../../src/data/stream/image_index.ts";
import { StreamLoader } from "../../src/data/stream/stream_loader.ts";
import { assertEquals, assertRejects, assertTrue } from "../helpers/assert.ts";

/** A JPEG of `width` x `height` with a gradient that depends on `seed`. */
function jpegOf(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = (x * 255 / width + seed * 40) & 255;
      data[i + 1] = (y * 255 / height) & 255;
      data[i + 2] = ((x + y) * 7 + seed * 13) & 255;
      data[i + 3] = 255;
    }
  }
  return new Uint8Array(jpeg.encode({ data, width, height }, 90).data);
}

/** A folder of `count` JPEGs of mixed sizes in two classes, plus one broken file. */
async function makeFolder(count: number): Promise<string> {
  const root = await Deno.makeTempDir();
  for (const name of ["a", "b"]) await Deno.mkdir(`${root}/${name}`);
  for (let i = 0; i < count; i++) {
    const width = 20 + (i * 7) % 30;
    const height = 18 + (i * 11) % 25;
    await Deno.writeFile(`${root}/${i % 2 ? "b" : "a"}/${i}.jpg`, jpegOf(width, height, i));
  }
  await Deno.writeFile(`${root}/a/broken.jpg`, jpegOf(30, 30, 99).subarray(0, 200));
  return root;
}

const VIEWS = [
  { size: 16, scale: [0.4, 1] as const },
  { size: 16, scale: [0.4, 1] as const },
  { size: 8, scale: [0.05, 0.4] as const },
];

Deno.test("folder index: ImageFolder layout, flat folder, list file, errors", async () => {
  const root = await makeFolder(6);
  try {
    const index = await indexImageFolder(root);
    assertEquals(index.classNames, ["a", "b"]);
    assertEquals(index.paths.length, 7);
    assertEquals(Array.from(index.labels!), [0, 0, 0, 0, 1, 1, 1]);
    const flat = await indexImageFolder(`${root}/a`);
    assertEquals([flat.paths.length, flat.labels, flat.classNames], [4, undefined, []]);
    await Deno.writeTextFile(`${root}/list.txt`, "a/0.jpg cat\n# note\n\nb/1.jpg dog\n");
    const list = await indexImageList(`${root}/list.txt`);
    assertEquals(list.paths, [`${root}/a/0.jpg`, `${root}/b/1.jpg`]);
    assertEquals([Array.from(list.labels!), list.classNames], [[0, 1], ["cat", "dog"]]);
    await Deno.mkdir(`${root}/empty`);
    await assertRejects(() => loadDataSpec(`folder:${root}/empty`), DataSpecError, "no image");
    const data = await loadDataSpec(`folder:${root}`);
    assertEquals([data.train.length + data.test.length, data.labelled], [7, true]);
    const unlabelled = await loadDataSpec(`folder:${root}/a`);
    assertEquals([unlabelled.train.length, unlabelled.test.length, unlabelled.labelled], [
      4,
      0,
      false,
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("header check: an image declaring too many pixels is refused before decoding", () => {
  const png = encodePng(new Uint8Array(4 * 3 * 3), 4, 3);
  assertEquals(readImageHeader(png), { format: "png", width: 4, height: 3 });
  assertEquals(readImageHeader(jpegOf(21, 13, 0)), { format: "jpeg", width: 21, height: 13 });
  // the IHDR rewritten to 100000 x 100000: refused from the header (no 30 GB allocation)
  const huge = png.slice();
  new DataView(huge.buffer).setUint32(16, 100000);
  new DataView(huge.buffer).setUint32(20, 100000);
  let message = "";
  try {
    decodeImage(huge);
  } catch (error) {
    message = (error as Error).message;
  }
  assertTrue(message.includes("refused before decoding"), message);
});

Deno.test("crop job: each view is Pillow's bicubic resize of the box drawn on the original", async () => {
  const bytes = jpegOf(37, 29, 5);
  const target = new SharedArrayBuffer(16 * 16 * 3 * 2 + 8 * 8 * 3);
  const reply = await runCropJob({
    id: 1,
    bytes,
    seed: 42,
    views: VIEWS,
    target,
    offsets: [0, 768, 1536],
    maxPixels: 1e6,
  });
  assertEquals(reply.error, undefined);
  const image = await decodeFast(bytes, 1e6); // the workers' decoder (sharp, or jpeg-js)
  const random = new SeededRandom(42);
  VIEWS.forEach((view, v) => {
    const box = sampleResizedCrop(random, 29, 37, view.scale);
    assertEquals(reply.boxes![v], box);
    const expected = resizeCropBicubic({ ...image, channels: 3 }, box, view.size, view.size);
    const got = new Uint8Array(target, [0, 768, 1536][v], expected.length);
    assertEquals(got, expected, `view ${v}`);
  });
});

Deno.test("stream loader: batches identical across worker counts, resumable, bad files named", async () => {
  const root = await makeFolder(13);
  const loaders: StreamLoader[] = [];
  try {
    const source = new IndexedImages(await indexImageFolder(root), `folder:${root}`);
    const open = (workers: number) => {
      const loader = new StreamLoader(source, {
        batchSize: 4,
        seed: 7,
        workers,
        views: () => VIEWS,
      });
      loaders.push(loader);
      return loader;
    };
    const collect = async (loader: StreamLoader, first: number) => {
      const out = [];
      for await (const batch of loader.batches(1, first)) {
        out.push({ images: batch.images.slice(), labels: Array.from(batch.labels) });
      }
      return out;
    };
    const inline = open(0);
    assertEquals(inline.batchesPerEpoch, 3); // 14 files, 4 per batch
    const straight = await collect(inline, 0);
    const pooled = await collect(open(2), 0);
    assertEquals(pooled, straight, "two workers cut the same batches as the main thread");
    assertEquals(await collect(open(2), 1), straight.slice(1), "an epoch resumed at batch 1");
    const skipped = [...inline.skipped];
    assertEquals(skipped.map((s) => s.path), [`${root}/a/broken.jpg`]);
    assertTrue(skipped[0].reason.includes("JPEG"), skipped[0].reason);
    const first = await collect(open(0), 0);
    const epochZero: Uint8Array[] = [];
    for await (const batch of open(0).batches(0, 0)) epochZero.push(batch.images.slice());
    assertTrue(first[0].images.some((value, i) => value !== epochZero[0][i]), "epochs differ");
  } finally {
    for (const loader of loaders) loader.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("stream loader: --shard-index/--shard-count give disjoint parts of every epoch", async () => {
  const root = await makeFolder(9);
  const loaders: StreamLoader[] = [];
  try {
    const source = new IndexedImages(await indexImageFolder(root), `folder:${root}`);
    const part = (shardIndex: number) => {
      const loader = new StreamLoader(source, {
        batchSize: 2,
        seed: 3,
        workers: 0,
        shardIndex,
        shardCount: 3,
        views: () => VIEWS,
      });
      loaders.push(loader);
      return Array.from(loader.order(4));
    };
    const parts = [part(0), part(1), part(2)];
    assertEquals(parts.map((order) => order.length), [4, 3, 3]);
    assertEquals(parts.flat().sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i));
  } finally {
    for (const loader of loaders) loader.close();
    await Deno.remove(root, { recursive: true });
  }
});
