import { assertEquals, assertRejects, assertTrue as assert } from "../helpers/assert.ts";
import {
  DataSpecError,
  knnGap,
  loadDataSpec,
  loadEvalDataSpec,
  skippedSummary,
} from "../../src/data/spec.ts";
import { indexImageFolder } from "../../src/data/stream/image_index.ts";
import { writeTarShards } from "../../src/data/stream/tar_writer.ts";
import { encodePng } from "../../src/io/image.ts";

async function writeImage(path: string, value: number, size = 6) {
  const pixels = new Uint8Array(size * size * 3).fill(value);
  await Deno.writeFile(path, encodePng(pixels, size, size));
}

Deno.test("synthetic:COUNT splits seeded 80/20 with every class named", async () => {
  const data = await loadDataSpec("synthetic:50", { seed: 3 });
  assertEquals(data.train.length + data.test.length, 50);
  assertEquals(data.test.length, 10);
  assertEquals(data.classes, 10);
  assertEquals(data.classNames.length, 10);
  assertEquals(data.name, "synthetic:50");
  const again = await loadDataSpec("synthetic:50", { seed: 3 });
  const first = await data.test.get(0);
  const second = await again.test.get(0);
  assertEquals([...first.image.slice(0, 20)], [...second.image.slice(0, 20)]);
  const other = await loadDataSpec("synthetic:50", { seed: 4 });
  const third = await other.test.get(0);
  assert(first.image.some((value, i) => value !== third.image[i]), "a new seed gives new data");
});

Deno.test("bad specs list the valid forms", async () => {
  for (const spec of ["imagenet", "synthetic:abc", "synthetic:3", "mnist", "folder:"]) {
    const error = await assertRejects(() => loadDataSpec(spec), DataSpecError);
    assert(
      error.message.includes("synthetic[:COUNT]") && error.message.includes("folder:DIR"),
      error.message,
    );
  }
  await assertRejects(
    () => loadDataSpec("folder:/nonexistent/x"),
    DataSpecError,
    "not a readable directory",
  );
  await assertRejects(() => loadDataSpec("mnist:/nonexistent/x"), DataSpecError, "missing");
});

Deno.test("folder:DIR splits one folder and reports unreadable images when met", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const name of ["cat", "dog"]) {
      await Deno.mkdir(`${root}/${name}`);
      for (let i = 0; i < 5; i++) {
        await writeImage(`${root}/${name}/${i}.png`, name === "cat" ? 10 : 200);
      }
    }
    await Deno.writeFile(`${root}/dog/broken.png`, new Uint8Array([1, 2, 3]));
    const data = await loadDataSpec(`folder:${root}`);
    assertEquals(data.classNames, ["cat", "dog"]);
    assertEquals(data.train.length, 9); // streamed: indexed, not decoded, so broken.png is listed
    assertEquals(data.test.length, 2);
    assertEquals(data.skipped.length, 0);
    for (const split of [data.train, data.test]) {
      for (let i = 0; i < split.length; i++) await split.get(i); // the broken file is replaced
    }
    assertEquals(data.skipped.length, 1);
    assert(skippedSummary(data.skipped)!.includes("broken.png"));
    assertEquals(skippedSummary([]), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("folder:DIR with train/ and test/ uses them and maps test classes by name", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const [split, names] of [["train", ["a", "b", "c"]], ["test", ["b", "c"]]] as const) {
      for (const name of names) {
        await Deno.mkdir(`${root}/${split}/${name}`, { recursive: true });
        await writeImage(
          `${root}/${split}/${name}/0.png`,
          name.charCodeAt(0),
          split === "train" ? 6 : 9,
        );
      }
    }
    const data = await loadDataSpec(`folder:${root}/`);
    assertEquals(data.classes, 3);
    assertEquals(data.train.length, 3);
    assertEquals(data.test.length, 2);
    const testLabels = [(await data.test.get(0)).label, (await data.test.get(1)).label];
    assertEquals(testLabels, [1, 2]); // b and c keep their train labels
    assertEquals((await data.test.get(0)).height, 9); // streamed: the original size
    await Deno.mkdir(`${root}/test/zebra`);
    await writeImage(`${root}/test/zebra/0.png`, 1);
    await assertRejects(() => loadDataSpec(`folder:${root}`), DataSpecError, "zebra");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("mnist:DIR reads IDX files", async () => {
  const root = await Deno.makeTempDir();
  try {
    const idx = (dims: number[], data: Uint8Array) => {
      const header = new Uint8Array(4 + 4 * dims.length);
      const view = new DataView(header.buffer);
      view.setUint8(2, 0x08);
      view.setUint8(3, dims.length);
      dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
      const out = new Uint8Array(header.length + data.length);
      out.set(header);
      out.set(data, header.length);
      return out;
    };
    await Deno.writeFile(
      `${root}/train-images-idx3-ubyte`,
      idx([4, 3, 3], new Uint8Array(36).fill(7)),
    );
    await Deno.writeFile(`${root}/train-labels-idx1-ubyte`, idx([4], new Uint8Array([0, 1, 2, 1])));
    await Deno.writeFile(`${root}/t10k-images-idx3-ubyte`, idx([2, 3, 3], new Uint8Array(18)));
    await Deno.writeFile(`${root}/t10k-labels-idx1-ubyte`, idx([2], new Uint8Array([1, 0])));
    const data = await loadDataSpec(`mnist:${root}`);
    assertEquals([data.train.length, data.test.length], [4, 2]);
    assertEquals(data.test.classes, data.classes);
    assertEquals(data.train.channels, 1);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadEvalDataSpec: a labelled set with a test split, or an error saying what was given", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/flat`);
    for (let i = 0; i < 4; i++) await writeImage(`${root}/flat/${i}.png`, 40 * i);
    for (const name of ["cat", "dog"]) {
      await Deno.mkdir(`${root}/labelled/${name}`, { recursive: true });
      for (let i = 0; i < 5; i++) await writeImage(`${root}/labelled/${name}/${i}.png`, 9 * i);
    }
    const data = await loadEvalDataSpec(`folder:${root}/labelled`, { seed: 1 });
    assertEquals([data.train.length, data.test.length, data.classes], [8, 2, 2]);
    assertEquals(knnGap(data), undefined);

    const flat = await loadDataSpec(`folder:${root}/flat`);
    assert(knnGap(flat)!.startsWith("has no labels"), knnGap(flat));
    const unlabelled = await assertRejects(
      () => loadEvalDataSpec(`folder:${root}/flat`),
      DataSpecError,
      `--eval-data folder:${root}/flat has no labels`,
    );
    assert(!unlabelled.message.includes("\n"), unlabelled.message);
    await assertRejects(
      () => loadEvalDataSpec("imagenet"),
      DataSpecError,
      '--eval-data "imagenet": unknown source',
    );
    await assertRejects(
      () => loadEvalDataSpec(`folder:${root}/none`),
      DataSpecError,
      `--eval-data folder:${root}/none: `,
    );
    await writeTarShards(await indexImageFolder(`${root}/labelled`), `${root}/shard-%d.tar`, {
      perShard: 10,
    });
    const shards = await loadDataSpec(`tar:${root}/shard-0.tar`);
    assertEquals([shards.labelled, shards.test.length], [true, 0]);
    await assertRejects(
      () => loadEvalDataSpec(`tar:${root}/shard-0.tar`),
      DataSpecError,
      `--eval-data tar:${root}/shard-0.tar has no test split (tar shards are not split: name the ` +
        'test shards after a "|", tar:PATTERN|TEST_PATTERN)',
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
