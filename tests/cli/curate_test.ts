/**
 * `curate embed` and `curate dedup` end to end on a tiny image folder with planted copies: the
 * copies are grouped with their originals, the first of each group kept, a near copy of a test
 * image decontaminated, the folder and the in-memory path agree, broken folders are named.
 */
import { assertEquals, assertRejects } from "../helpers/assert.ts";
import { commandRunner } from "../helpers/cli.ts";
import { curateCommand } from "../../cli/commands/curate.ts";
import { CurateError } from "../../src/curate/embeddings.ts";
import { encodePng } from "../../src/io/image.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

const run = commandRunner(curateCommand());

/** Noise images 16 x 16 gray: train img00..img09, img10..img12 copies of 0..2 (img12 a bit
 * brighter); test t0 a brighter copy of train img05, t1 and t2 new noise. */
async function plantedFolder(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const random = new Random(17);
  const noise = () => Uint8Array.from({ length: 256 }, () => random.int(256));
  const brighter = (image: Uint8Array) => image.map((v) => Math.min(255, v + 3));
  const train = Array.from({ length: 10 }, noise);
  train.push(train[0], train[1], brighter(train[2]));
  const test = [brighter(train[5]), noise(), noise()];
  for (const [split, images] of [["train", train], ["test", test]] as const) {
    await Deno.mkdir(`${dir}/${split}/a`, { recursive: true });
    for (const [i, image] of images.entries()) {
      const name = `${dir}/${split}/a/img${String(i).padStart(2, "0")}.png`;
      await Deno.writeFile(name, encodePng(image, 16, 16));
    }
  }
  return dir;
}

gpuTest("curate: embed a folder, dedup it against its test split, same as in memory", async () => {
  const dir = await plantedFolder();
  try {
    const data = `folder:${dir}`;
    const common = ["--features", "pixels", "--quiet"];
    const embedded = await run([
      "embed",
      "--data",
      data,
      "--out",
      `${dir}/emb`,
      "--shard-rows",
      "5",
      ...common,
    ]);
    assertEquals(embedded.startsWith("curate embed: 13 x 768"), true, embedded);
    const flags = [
      "--k",
      "4",
      "--threshold",
      "0.99",
      "--against",
      data,
      "--against-threshold",
      "0.99",
    ];
    const fromFolder = await run([
      "dedup",
      "--embeddings",
      `${dir}/emb`,
      "--data",
      data,
      "--out",
      `${dir}/a`,
      ...flags,
      "--json",
    ]);
    assertEquals(JSON.parse(fromFolder), {
      rows: 13,
      kept: 9,
      removed: 4,
      groups: 4,
      contaminated_groups: 1,
      out: `${dir}/a`,
    });
    const kept = (await Deno.readTextFile(`${dir}/a/kept.txt`)).trim().split("\n");
    assertEquals(kept, [
      "train/0",
      "train/1",
      "train/2",
      "train/3",
      "train/4",
      "train/6",
      "train/7",
      "train/8",
      "train/9",
    ]);
    const groups = JSON.parse(await Deno.readTextFile(`${dir}/a/groups.json`)).groups;
    assertEquals(
      groups.map((group: { members: { row: number }[]; contaminated: boolean }) => [
        group.members.map((member) => member.row),
        group.contaminated,
      ]),
      [[[0, 10], false], [[1, 11], false], [[2, 12], false], [[5], true]],
    );
    assertEquals((await Deno.stat(`${dir}/a/groups.png`)).size > 100, true);
    await run(["dedup", "--data", data, "--out", `${dir}/b`, ...flags, ...common]);
    assertEquals(
      await Deno.readTextFile(`${dir}/b/kept.txt`),
      await Deno.readTextFile(`${dir}/a/kept.txt`),
    );
    await Deno.remove(`${dir}/emb/embeddings-00001.npy`);
    await assertRejects(
      () => run(["dedup", "--embeddings", `${dir}/emb`, "--out", `${dir}/c`]),
      CurateError,
      `${dir}/emb/embeddings-00001.npy: missing shard`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("curate cluster: two levels and a balanced sample of synthetic images", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const common = ["--data", "synthetic:100", "--features", "pixels", "--quiet", "--json"];
    const flags = ["--levels", "8,2", "--iterations", "5", "--target", "30", "--pick", "closest"];
    const line = JSON.parse(await run(["cluster", ...common, ...flags, "--out", dir]));
    assertEquals(line, { rows: 80, levels: [8, 2], sampled: 30, out: dir });
    const clusters = JSON.parse(await Deno.readTextFile(`${dir}/clusters.json`));
    assertEquals(clusters.leaf_of_row.length, 80);
    assertEquals(clusters.levels[0].sizes.reduce((a: number, b: number) => a + b, 0), 80);
    const sampled = (await Deno.readTextFile(`${dir}/sampled.txt`)).trim().split("\n");
    assertEquals(new Set(sampled).size, 30);
    await assertRejects(
      () => run(["cluster", ...common, "--levels", "81", "--out", dir]),
      Error,
      "--levels 81: 81 clusters for 80 images",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("curate retrieve: a query's copies come back; an empty query set is refused", async () => {
  const dir = await plantedFolder();
  try {
    const data = `folder:${dir}`;
    const common = ["--features", "pixels", "--quiet", "--json"];
    const line = JSON.parse(
      await run([
        "retrieve",
        "--data",
        data,
        "--queries",
        data,
        "--k",
        "2",
        "--out",
        `${dir}/r`,
        ...common,
      ]),
    );
    assertEquals(line.pool, 13);
    const neighbours = JSON.parse(await Deno.readTextFile(`${dir}/r/neighbours.json`));
    assertEquals(neighbours.length, 3);
    assertEquals(neighbours[0].query, "test/0");
    assertEquals(neighbours[0].neighbours[0].name, "train/5"); // test/0 is a brighter train/5
    const retrieved = (await Deno.readTextFile(`${dir}/r/retrieved.txt`)).trim().split("\n");
    assertEquals(retrieved.includes("train/5"), true);
    assertEquals(retrieved.length, line.retrieved);
    await Deno.mkdir(`${dir}/empty/train/a`, { recursive: true });
    await Deno.mkdir(`${dir}/empty/test/a`, { recursive: true });
    await Deno.copyFile(`${dir}/train/a/img00.png`, `${dir}/empty/train/a/img00.png`);
    await assertRejects(
      () =>
        run([
          "retrieve",
          "--data",
          data,
          "--queries",
          `folder:${dir}/empty`,
          "--out",
          `${dir}/e`,
          ...common,
        ]),
      Error,
      "empty",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
