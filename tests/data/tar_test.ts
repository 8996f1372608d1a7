// WebDataset tar shards: written from a folder (bytes as they are, labels in .cls), read back by
// their headers, streamed in WebDataset's order (a pure function of seed and epoch), resumable.
import jpeg from "jpeg-js";
import { DataSpecError, loadDataSpec } from "../../src/data/spec.ts";
import { type IndexedImages, indexImageFolder } from "../../src/data/stream/image_index.ts";
import { shardOrder } from "../../src/data/stream/shard_order.ts";
import { StreamLoader } from "../../src/data/stream/stream_loader.ts";
import { expandShardPattern, indexTarShards } from "../../src/data/stream/tar_shards.ts";
import { writeTarShards } from "../../src/data/stream/tar_writer.ts";
import { readImageBytes } from "../../src/data/stream/image_index.ts";
import { assertEquals, assertRejects, assertTrue } from "../helpers/assert.ts";

function jpegOf(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 4).map((_, i) => (i * 7 + seed * 29) & 255);
  return new Uint8Array(jpeg.encode({ data, width, height }, 85).data);
}

Deno.test("tar shards: pattern ranges and lists expand in order", () => {
  assertEquals(expandShardPattern("s-{08..11}.tar"), [
    "s-08.tar",
    "s-09.tar",
    "s-10.tar",
    "s-11.tar",
  ]);
  assertEquals(expandShardPattern("{a,b}/x-{1..2}.tar"), [
    "a/x-1.tar",
    "a/x-2.tar",
    "b/x-1.tar",
    "b/x-2.tar",
  ]);
  assertEquals(expandShardPattern("one.tar"), ["one.tar"]);
});

Deno.test("tar shards: WebDataset order is a permutation, seeded per epoch, buffer-local", () => {
  const starts = Int32Array.from([0, 10, 20, 30, 35]);
  const order = shardOrder(starts, 3, 0, 4);
  assertEquals([...order].sort((a, b) => a - b), Array.from({ length: 35 }, (_, i) => i));
  assertEquals(shardOrder(starts, 3, 0, 4), order);
  assertTrue(shardOrder(starts, 3, 1, 4).some((value, i) => value !== order[i]), "epochs differ");
  // with a buffer of 1 the shards' samples come out in file order, shard after shard
  const plain = shardOrder(starts, 3, 0, 1);
  for (let i = 1; i < 35; i++) {
    if (!starts.includes(plain[i])) assertEquals(plain[i], plain[i - 1] + 1);
  }
});

Deno.test("tar shards: written from a folder, indexed, streamed and resumed", async () => {
  const root = await Deno.makeTempDir();
  const loaders: StreamLoader[] = [];
  try {
    for (let i = 0; i < 11; i++) {
      await Deno.mkdir(`${root}/images/${i % 3 ? "b" : "a"}`, { recursive: true });
      await Deno.writeFile(
        `${root}/images/${i % 3 ? "b" : "a"}/${i}.jpg`,
        jpegOf(17 + i, 15 + i % 4, i),
      );
    }
    const folder = await indexImageFolder(`${root}/images`);
    const { shards } = await writeTarShards(
      folder,
      `${root}/part-%03d.tar`,
      {
        perShard: 4,
      },
    );
    assertEquals(shards.length, 3);
    const index = await indexTarShards(`${root}/part-{000..002}.tar`);
    assertEquals(Array.from(index.shardStarts), [0, 4, 8, 11]);
    assertEquals(Array.from(index.labels!), Array.from(folder.labels!));
    for (let i = 0; i < 11; i++) {
      const member = await readImageBytes(index.paths[i], index.offsets[i], index.lengths[i]);
      assertEquals(member, await Deno.readFile(folder.paths[i]), `member ${i}`);
    }
    const data = await loadDataSpec(`tar:${root}/part-{000..002}.tar`);
    assertEquals([data.train.length, data.test.length, data.labelled], [11, 0, true]);
    const source = data.train as IndexedImages;
    source.shuffleBuffer = 3;
    const open = () => {
      const loader = new StreamLoader(source, {
        batchSize: 3,
        seed: 5,
        workers: 1,
        views: () => [{ size: 8, scale: [0.3, 1] }],
      });
      loaders.push(loader);
      return loader;
    };
    const collect = async (loader: StreamLoader, first: number) => {
      const out = [];
      for await (const batch of loader.batches(2, first)) {
        out.push([Array.from(batch.indices), batch.images.slice()]);
      }
      return out;
    };
    const straight = await collect(open(), 0);
    assertEquals(straight.length, 3);
    assertEquals(await collect(open(), 2), straight.slice(2));
    assertEquals(Array.from(open().order(2)), Array.from(shardOrder(index.shardStarts, 5, 2, 3)));
  } finally {
    for (const loader of loaders) loader.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("tar shards: a shard without images or a missing shard is an error naming it", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${root}/notes-0.tar`, new Uint8Array(1024));
    await assertRejects(
      () => loadDataSpec(`tar:${root}/notes-0.tar`),
      DataSpecError,
      "no image member",
    );
    await assertRejects(
      () => loadDataSpec(`tar:${root}/gone-{0..1}.tar`),
      DataSpecError,
      "gone-0.tar",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("tar shards: PATTERN|TEST_PATTERN gives a test split whose .cls classes map by name", async () => {
  const root = await Deno.makeTempDir();
  try {
    // train: classes 0, 1, 2; test: classes 1 and 2 only (indexed there as 0 and 1)
    for (const [split, classes] of [["train", ["a", "b", "c"]], ["val", ["b", "c"]]] as const) {
      for (const [c, name] of classes.entries()) {
        for (let i = 0; i < 2; i++) {
          await Deno.mkdir(`${root}/${split}/${name}`, { recursive: true });
          await Deno.writeFile(`${root}/${split}/${name}/${i}.jpg`, jpegOf(12, 10 + c, c * 2 + i));
        }
      }
    }
    const folder = await indexImageFolder(`${root}/train`);
    await writeTarShards(folder, `${root}/train-%d.tar`, { perShard: 4 });
    const val = await indexImageFolder(`${root}/val`);
    // .cls holds the label number: val's b and c are written as 0 and 1, so name them as train's
    await writeTarShards(
      { ...val, labels: val.labels!.map((label) => label + 1) },
      `${root}/val-%d.tar`,
      { perShard: 4 },
    );
    const data = await loadDataSpec(`tar:${root}/train-{0..1}.tar|${root}/val-0.tar`);
    assertEquals([data.train.length, data.test.length, data.labelled], [6, 4, true]);
    assertEquals(data.classNames, ["0", "1", "2"]);
    const labels = [];
    for (let i = 0; i < data.test.length; i++) {
      const sample = await data.test.get(i); // read by byte range from the test shard
      assertEquals(sample.width, 12);
      labels.push(sample.label);
    }
    assertEquals(labels, [1, 1, 2, 2]);
    assertEquals(data.skipped, []);

    // an unlabelled test set beside a labelled train set, or no pattern after the bar
    await writeTarShards({ paths: val.paths, classNames: [] }, `${root}/bare-%d.tar`, {
      perShard: 4,
    });
    await assertRejects(
      () => loadDataSpec(`tar:${root}/train-0.tar|${root}/bare-0.tar`),
      DataSpecError,
      "have .cls labels, those of",
    );
    await assertRejects(
      () => loadDataSpec(`tar:${root}/train-0.tar|`),
      DataSpecError,
      'no test shards after the "|"',
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("tar shards: a shard from GNU tar (folders, ustar prefixes, labels before or after, big and tiny images) indexes to its bytes", async () => {
  const root = await Deno.makeTempDir();
  try {
    // a long folder name goes into ustar's prefix field; members of 1 byte to several windows
    const folder = `${"deep".repeat(30)}/images`;
    await Deno.mkdir(`${root}/${folder}`, { recursive: true });
    const members: { name: string; bytes: Uint8Array; label: string }[] = [];
    for (let i = 0; i < 7; i++) {
      const bytes = i === 3 ? new Uint8Array([0xff]) : jpegOf(8 + 40 * i, 8 + 30 * i, i);
      members.push({ name: `${folder}/sample${i}`, bytes, label: String(i % 3) });
    }
    const names: string[] = [];
    for (const [i, member] of members.entries()) {
      await Deno.writeFile(`${root}/${member.name}.jpg`, member.bytes);
      await Deno.writeTextFile(`${root}/${member.name}.cls`, member.label);
      // even samples put the label first
      const pair = [`${member.name}.jpg`, `${member.name}.cls`];
      names.push(...(i % 2 === 0 ? pair.reverse() : pair));
    }
    const tar = new Deno.Command("tar", {
      args: ["--format=ustar", "-cf", `${root}/gnu-0.tar`, "-C", root, ...names],
    });
    const { success, stderr } = await tar.output();
    assertTrue(success, new TextDecoder().decode(stderr));
    const index = await indexTarShards(`${root}/gnu-0.tar`);
    const shard = await Deno.readFile(`${root}/gnu-0.tar`);
    const found = Array.from(
      index.offsets,
      (offset, i) => shard.subarray(offset, offset + index.lengths[i]).join(","),
    );
    assertEquals(index.paths.length, members.length);
    for (const member of members) {
      assertTrue(found.includes(member.bytes.join(",")), `${member.name} not indexed to its bytes`);
    }
    assertEquals(index.classNames, ["0", "1", "2"]);
    for (let i = 0; i < index.paths.length; i++) {
      const member = members.find((m) => m.bytes.join(",") === found[i])!;
      assertEquals(index.classNames[index.labels![i]], member.label);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
