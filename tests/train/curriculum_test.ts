// The resolution curriculum: token order, block-diagonal Mixer growth that keeps the function,
// refusal of sizes off the patch grid, phase switches inside runs and exact resumption after one.
import { join } from "node:path";
import { syntheticDataset } from "../../src/data/synthetic.ts";
import { loadModel } from "../../src/io/pretrained/load.ts";
import { MlpMixer } from "../../src/nn/mixer.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { DINO_DEFAULTS, type DinoTrainConfig } from "../../src/train/config.ts";
import { ConfigError, resolveConfig } from "../../src/train/validate.ts";
import { readCheckpointInfo } from "../../src/train/checkpoint.ts";
import { blockTokenOrder } from "../../src/nn/mixer.ts";
import { blockDiagonal, growMixer, phaseAt, resolutionPhases } from "../../src/train/curriculum.ts";
import { runDinoTraining } from "../../src/train/run.ts";
import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { tinyPatch4Config } from "../helpers/tiny_dino.ts";
import { assertClose } from "../helpers/op_check.ts";

Deno.test("curriculum: block token order, block diagonals and phases", () => {
  const order = Array.from(blockTokenOrder([2, 4]));
  assertEquals(order.slice(0, 4), [0, 2, 8, 10]);
  assertEquals(order.slice(4, 8), [1, 3, 9, 11]);
  assertEquals([...order].sort((a, b) => a - b), Array.from({ length: 16 }, (_, i) => i));
  const nested = Array.from(blockTokenOrder([1, 2, 4]));
  assertEquals([...nested].sort((a, b) => a - b), Array.from({ length: 16 }, (_, i) => i));
  assertEquals(Array.from(blockDiagonal([1, 2, 3, 4, 5, 6], 2, 3, 2)), [
    1,
    2,
    3,
    0,
    0,
    0,
    4,
    5,
    6,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    2,
    3,
    0,
    0,
    0,
    4,
    5,
    6,
  ]);
  assertEquals(Array.from(blockDiagonal([7, 8], 2, 1, 3)), [7, 8, 7, 8, 7, 8]);
  const config = resolveConfig(DINO_DEFAULTS, {
    imageSize: 28,
    patchSize: 4,
    globalSize: 16,
    localSize: 8,
    resolutionSchedule: [[0.9, 28, 12]],
  });
  const phases = resolutionPhases(config, 100);
  assertEquals(phases.map((p) => p.startStep), [0, 90]);
  assertEquals([phaseAt(phases, 89), phaseAt(phases, 90)], [0, 1]);
});

Deno.test("curriculum: sizes off the patch grid are refused before training", () => {
  const base = { imageSize: 28, patchSize: 4, globalSize: 16, localSize: 8 };
  const refused: [Record<string, unknown>, string][] = [
    [
      { resolutionSchedule: [[0.9, 30, 12]] },
      "global size 30 (phase starting at 0.9) is not a multiple of patchSize 4",
    ],
    [{ resolutionSchedule: [[0.9, 28, 13]] }, "local size 13"],
    [{ resolutionSchedule: [[1.5, 28, 12]] }, "within (0, 1)"],
    [{ arch: "mixer", localCrops: 0, resolutionSchedule: [[0.5, 24, 24]] }, "whole multiple"],
    [{ resolutionSchedule: [[0.5, 16]] }, "triples"],
  ];
  for (const [fields, message] of refused) {
    assertThrows(() => resolveConfig(DINO_DEFAULTS, { ...base, ...fields }), ConfigError, message);
  }
});

gpuTest(
  "curriculum: a grown Mixer computes the old function on patch-replicated images",
  async () => {
    const mixer = new MlpMixer({
      imageSize: 8,
      patchSize: 4,
      inChannels: 3,
      embedDim: 8,
      depth: 2,
      tokenHidden: 6,
      channelHidden: 10,
      seed: 4,
    });
    mixer.eval();
    const small = Float32Array.from({ length: 2 * 3 * 8 * 8 }, (_, i) => Math.sin(i * 0.37));
    const big = new Float32Array(2 * 3 * 16 * 16);
    for (let b = 0; b < 2; b++) {
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < 16; y++) {
          for (let x = 0; x < 16; x++) {
            // patch (Y, X) of the big image copies patch (Y >> 1, X >> 1) of the small one
            const sy = (Math.floor(y / 4) >> 1) * 4 + (y % 4);
            const sx = (Math.floor(x / 4) >> 1) * 4 + (x % 4);
            big[((b * 3 + c) * 16 + y) * 16 + x] = small[((b * 3 + c) * 8 + sy) * 8 + sx];
          }
        }
      }
    }
    const smallImages = tensor(small, [2, 3, 8, 8]);
    const before = mixer.forward(smallImages);
    const expected = await before.pooled.read();
    await growMixer(mixer, 4);
    assertEquals(mixer.blocks[0].tokens, 16);
    assertEquals(mixer.blocks[0].mlpTokens.fc1.weight.shape, [24, 16]);
    const bigImages = tensor(big, [2, 3, 16, 16]);
    const after = mixer.forward(bigImages);
    assertClose(await after.pooled.read(), expected, "grown Mixer features", { absolute: 1e-5 });
    for (
      const t of [smallImages, bigImages, before.pooled, before.tokens, after.pooled, after.tokens]
    ) {
      t.dispose();
    }
    mixer.dispose();
  },
);

const data = syntheticDataset({ count: 64, size: 16, seed: 3 });

/** The distillation tests' 4 px patch run at 8 px global crops and no local ones. */
function tinyConfig(out: string, overrides: Partial<DinoTrainConfig>): DinoTrainConfig {
  return tinyPatch4Config(out, { globalSize: 8, localCrops: 0, ...overrides });
}

for (const arch of ["vit", "mixer"] as const) {
  gpuTest(
    `curriculum: ${arch} switches phase mid-run and resumes exactly after the switch`,
    async () => {
      const dir = await Deno.makeTempDir();
      try {
        // the run in folder `name`, growing to 16 px crops half-way
        const config = (name: string, maxSteps: number) =>
          tinyConfig(join(dir, name), { arch, maxSteps, resolutionSchedule: [[0.5, 16, 16]] });
        const messages: string[] = [];
        const straight = await runDinoTraining({
          config: config("straight", 7),
          train: data,
          onMessage: (m) => messages.push(m),
        });
        assertTrue(
          messages.some((m) => m.includes("resolution phase 1, global crops 16 px")),
          messages.join("\n"),
        );
        await runDinoTraining({ config: config("split", 5), train: data });
        const info = await readCheckpointInfo(join(dir, "split"));
        assertEquals(info.phase, 1);
        assertEquals(info.tokenGrids, arch === "mixer" ? [2, 4] : undefined);
        // what knn/embed/probe read back keeps a grown Mixer's token order
        const loaded = await loadModel(join(dir, "split"));
        const grids = loaded.model instanceof MlpMixer ? loaded.model.tokenGrids : undefined;
        loaded.model.dispose();
        assertEquals(grids, arch === "mixer" ? [2, 4] : undefined);
        const resumed = await runDinoTraining({
          config: config("split", 7),
          train: data,
          resume: join(dir, "split"),
        });
        for (const step of [6, 7]) {
          const expected = straight.losses.get(step);
          assertTrue(expected !== undefined && Number.isFinite(expected));
          assertEquals(resumed.losses.get(step), expected, `loss at step ${step} after resuming`);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}
