/**
 * A sharded `curate embed`: three local processes (one told its part by JOB_COMPLETION_INDEX and
 * DINOGPU_SHARD_COUNT, as a Kubernetes Indexed Job would), then `curate merge`: the merged folder
 * equals a single-process embed; a missing part is named.
 */
import { assertEquals, assertRejects } from "../helpers/assert.ts";
import { commandRunner, runMain } from "../helpers/cli.ts";
import { curateCommand } from "../../cli/commands/curate.ts";
import { CurateError, readEmbeddings } from "../../src/curate/embeddings.ts";
import { shardFromEnvironment, shardRange } from "../../src/curate/shards.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

const run = commandRunner(curateCommand());

Deno.test("shardRange and shardFromEnvironment", () => {
  assertEquals([0, 1, 2].map((i) => shardRange(10, i, 3)), [[0, 3], [3, 6], [6, 10]]);
  const environment = (values: Record<string, string>) => ({ get: (name: string) => values[name] });
  assertEquals(shardFromEnvironment({}, environment({})), undefined);
  assertEquals(
    shardFromEnvironment({}, environment({ JOB_COMPLETION_INDEX: "2", DINOGPU_SHARD_COUNT: "4" })),
    { index: 2, count: 4 },
  );
  assertEquals(shardFromEnvironment({ index: 1, count: 2 }, environment({})), {
    index: 1,
    count: 2,
  });
  try {
    shardFromEnvironment({ index: 3, count: 3 }, environment({}));
    throw new Error("accepted index 3 of 3");
  } catch (error) {
    assertEquals((error as Error).message, "shard index 3 of 3: need 0 <= index < count");
  }
});

gpuTest("curate embed in 3 processes + merge equals one process", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const flags = [
      "--data",
      "synthetic:60",
      "--features",
      "pixels",
      "--shard-rows",
      "7",
      "--quiet",
    ];
    const processes = [0, 1, 2].map((index) => {
      const shard = index === 2
        ? { args: [], env: { JOB_COMPLETION_INDEX: "2", DINOGPU_SHARD_COUNT: "3" } }
        : {
          args: ["--shard-index", String(index), "--shard-count", "3"],
          env: {} as Record<string, string>,
        };
      return runMain(
        ["curate", "embed", ...flags, ...shard.args, "--out", `${dir}/sharded`],
        shard.env,
      );
    });
    for (const [index, output] of (await Promise.all(processes)).entries()) {
      assertEquals(output.code, 0, `part ${index}: ${output.stderr}`);
    }
    await run(["merge", `${dir}/sharded`]);
    await run(["embed", ...flags, "--out", `${dir}/whole`]);
    const [sharded, whole] = [
      await readEmbeddings(`${dir}/sharded`),
      await readEmbeddings(`${dir}/whole`),
    ];
    assertEquals(sharded.names, whole.names);
    assertEquals(sharded.data, whole.data);
    assertEquals(sharded.index.shards.length, 9); // 16 rows a part: shards of 7, 7 and 2
    await Deno.remove(`${dir}/sharded/part-00001`, { recursive: true });
    await assertRejects(
      () => run(["merge", `${dir}/sharded`]),
      CurateError,
      "part-00001: missing part 1 of 3",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
