/**
 * curate's lists back to train rows (src/data/names.ts): `train/N` lines in order, blank lines
 * skipped, everything else refused naming the line; the subset of an in-memory set and of a
 * streamed folder (which stays streamed).
 */
import { join } from "node:path";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "../helpers/assert.ts";
import { ArrayDataset } from "../../src/data/dataset.ts";
import { trainRowsOfNames, trainSubsetOf } from "../../src/data/names.ts";
import { DataSpecError } from "../../src/data/spec.ts";
import { IndexedImages, indexImageFolder } from "../../src/data/stream/image_index.ts";
import { encodePng } from "../../src/io/image.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

Deno.test("names: train/N lines give train rows in their order", () => {
  assertEquals(Array.from(trainRowsOfNames("train/5\ntrain/0\n\n train/3 \n", 6, "kept.txt")), [
    5,
    0,
    3,
  ]);
});

Deno.test("names: other lines, rows past the split, repeats and empty lists are refused", () => {
  const cases: [string, string][] = [
    ["train/1\ntest/2\n", 'kept.txt line 2: "test/2" is not train/N'],
    ["train/1\nphotos/a.png\n", 'kept.txt line 2: "photos/a.png" is not train/N'],
    ["train/6\n", 'kept.txt line 1: "train/6" is past the train split\'s 6 images'],
    ["train/2\ntrain/2\n", 'kept.txt line 2: "train/2" names a row already named'],
    ["\n\n", "kept.txt: names no train images"],
  ];
  for (const [text, message] of cases) {
    assertThrows(() => trainRowsOfNames(text, 6, "kept.txt"), DataSpecError, message);
  }
});

Deno.test("names: the subset of an in-memory set, and of a streamed folder", async () => {
  const images = new Uint8Array(6 * 2 * 2 * 1).map((_, i) => i);
  const arrays = new ArrayDataset({
    images,
    labels: [0, 1, 0, 1, 0, 1],
    height: 2,
    width: 2,
    channels: 1,
    classes: 2,
  });
  await withTempDir(async (dir) => {
    const list = join(dir, "sampled.txt");
    await Deno.writeTextFile(list, "train/4\ntrain/1\n");
    const picked = await trainSubsetOf(arrays, list);
    assertEquals(picked.length, 2);
    assertEquals(Array.from((await picked.get(0)).image), Array.from(images.subarray(16, 20)));
    assertEquals((await picked.get(1)).label, 1);

    for (const name of ["a", "b"]) {
      await Deno.mkdir(join(dir, "folder", name), { recursive: true });
      for (let i = 0; i < 2; i++) {
        const pixels = new Uint8Array(4 * 4 * 3).fill(40 * i + (name === "a" ? 0 : 100));
        await Deno.writeFile(join(dir, "folder", name, `${i}.png`), encodePng(pixels, 4, 4));
      }
    }
    const folder = new IndexedImages(await indexImageFolder(join(dir, "folder")), "folder");
    const streamed = await trainSubsetOf(folder, list.replace("sampled", "other"))
      .catch((error) => error);
    assertTrue(streamed instanceof DataSpecError, "a missing list is a DataSpecError");
    await Deno.writeTextFile(list, "train/3\n");
    const one = await trainSubsetOf(folder, list);
    assertTrue(one instanceof IndexedImages, "a streamed source stays streamed");
    assertEquals([one.length, (await one.get(0)).label], [1, 1]);
  });
  await assertRejects(
    () => trainSubsetOf(arrays, "/nonexistent/kept.txt"),
    DataSpecError,
    "/nonexistent/kept.txt: cannot read",
  );
});
