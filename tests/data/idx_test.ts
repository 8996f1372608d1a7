import { assertEquals, assertRejects, assertThrows, assertTrue } from "../helpers/assert.ts";
import {
  FASHION_MNIST_DIR,
  idxDataset,
  IdxError,
  loadFashionMnist,
  loadMnist,
  parseIdx,
  readIdxFile,
} from "../../src/data/idx.ts";

/** Writes an IDX file by hand: magic 00 00 type rank, big-endian dims, then the body. */
function makeIdx(typeCode: number, dims: number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const view = new DataView(out.buffer);
  out.set([0, 0, typeCode, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(body, 4 + 4 * dims.length);
  return out;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const N = 5, H = 3, W = 4;
const pixels = Uint8Array.from({ length: N * H * W }, (_, i) => (i * 37) % 256);
const labels = Uint8Array.from([3, 0, 9, 1, 3]);

Deno.test("parseIdx reads uint8 images and big-endian int32 / float32", () => {
  const images = parseIdx(makeIdx(0x08, [N, H, W], pixels));
  assertEquals(images.type, "uint8");
  assertEquals(images.dims, [N, H, W]);
  assertEquals(images.data, pixels);

  const ints = new Uint8Array(8);
  new DataView(ints.buffer).setInt32(0, -7, false);
  new DataView(ints.buffer).setInt32(4, 123456, false);
  assertEquals(Array.from(parseIdx(makeIdx(0x0c, [2], ints)).data), [-7, 123456]);

  const floats = new Uint8Array(4);
  new DataView(floats.buffer).setFloat32(0, 1.5, false);
  assertEquals(Array.from(parseIdx(makeIdx(0x0d, [1, 1], floats)).data), [1.5]);
});

Deno.test("parseIdx rejects bad magic, unknown types and wrong sizes, naming the file", () => {
  const good = makeIdx(0x08, [N, H, W], pixels);
  const badMagic = good.slice();
  badMagic[0] = 0x1f;
  assertThrows(() => parseIdx(badMagic, "x.idx"), IdxError, "x.idx: not an IDX file");
  const badType = good.slice();
  badType[2] = 0x07;
  assertThrows(() => parseIdx(badType, "t.idx"), IdxError, "unknown IDX element type code 07");
  assertThrows(
    () => parseIdx(good.subarray(0, good.length - 1), "short.idx"),
    IdxError,
    "short.idx: IDX size mismatch: dims [5, 3, 4] of uint8 need 76 bytes, the file has 75 (truncated)",
  );
  assertThrows(() => parseIdx(good.subarray(0, 9), "h.idx"), IdxError, "truncated IDX header");
  assertThrows(() => parseIdx(new Uint8Array(2), "e.idx"), IdxError, "shorter than the header");
});

Deno.test("readIdxFile and loadMnist read raw and gzip files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const imagesIdx = makeIdx(0x08, [N, H, W], pixels);
    const labelsIdx = makeIdx(0x08, [N], labels);
    // Train files gzip-compressed, test files raw.
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte.gz`, await gzip(imagesIdx));
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte.gz`, await gzip(labelsIdx));
    await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, imagesIdx);
    await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, labelsIdx);
    const fromGz = await readIdxFile(`${dir}/train-images-idx3-ubyte.gz`);
    assertEquals(fromGz.data, pixels);

    const { train, test } = await loadMnist(dir);
    for (const split of [train, test]) {
      assertEquals([split.height, split.width, split.channels, split.classes], [H, W, 1, 10]);
      assertEquals(split.images, pixels);
      assertEquals(split.labels, labels);
    }
    const dataset = idxDataset(train);
    const sample = dataset.get(2);
    assertEquals(sample.label, 9);
    assertEquals(sample.image, pixels.subarray(2 * H * W, 3 * H * W));

    // A truncated gzip names the file.
    const gz = await gzip(imagesIdx);
    await Deno.writeFile(`${dir}/broken.gz`, gz.subarray(0, gz.length - 12));
    await assertRejects(() => readIdxFile(`${dir}/broken.gz`), IdxError, `${dir}/broken.gz`);
    // Labels out of range and count mismatches are refused.
    await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, makeIdx(0x08, [N], labels.map(() => 10)));
    await assertRejects(() => loadMnist(dir), IdxError, "label 10 at 0 outside [0, 10)");
    await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, makeIdx(0x08, [N - 1], labels.slice(1)));
    await assertRejects(() => loadMnist(dir), IdxError, "has 5 images but");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("missing files: the error lists them, and the fashion-mnist preset says how to install", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(() => loadMnist(dir), IdxError, "t10k-labels-idx1-ubyte[.gz]");
    await assertRejects(
      () => loadFashionMnist(`${dir}/nope`),
      IdxError,
      "apt-get install dataset-fashion-mnist",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

let haveFashion = false;
try {
  haveFashion = Deno.statSync(`${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`).isFile;
} catch {
  haveFashion = false;
}

Deno.test({
  name: "fashion-mnist preset: 60000 / 10000 images of 28x28, labels 0..9, balanced",
  ignore: !haveFashion,
  fn: async () => {
    const { train, test } = await loadFashionMnist();
    assertEquals(train.labels.length, 60000);
    assertEquals(test.labels.length, 10000);
    assertEquals(train.images.length, 60000 * 28 * 28);
    assertEquals([train.height, train.width, train.channels, train.classes], [28, 28, 1, 10]);
    const counts = new Array(10).fill(0);
    for (const label of test.labels) counts[label]++;
    assertEquals(counts, new Array(10).fill(1000));
    assertTrue(train.labels.every((label) => label < 10));
    assertEquals(train.classNames?.[9], "Ankle boot");
  },
});
