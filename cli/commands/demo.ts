/**
 * `dinogpu demo`: the main job. DINO on the built-in generated textures (no download) with the
 * demo's small ViT, or one epoch of a real data set's preset, ending with the k-NN accuracy before
 * and after training.
 * @module
 */
import { Command } from "commander";
import { type DinoTrainConfig, generatedData } from "../../src/train/config.ts";
import { trainFromFlags } from "./train.ts";
import { addTrainOptions, type TrainFlags } from "./train_options.ts";

/** The `demo` command: the main job, on the built-in textures unless told otherwise. */
export function demoCommand(): Command {
  return addTrainOptions(
    new Command("demo").description(
      "train a small ViT with DINO on built-in texture images (no download) and report " +
        "k-NN accuracy before and after",
    ),
  ).action(async (flags: TrainFlags) => {
    const { result } = await trainFromFlags(flags, demoDefaults);
    console.log(
      `trained ${result.steps} steps at ${result.imagesPerSecond.toFixed(1)} images/s; ` +
        `checkpoint ${result.checkpoint}`,
    );
    console.log(
      `knn_top1 before=${result.knnBefore?.toFixed(2) ?? "n/a"} after=${
        result.knnAfter?.toFixed(2) ?? "n/a"
      }`,
    );
  });
}

/**
 * The demo's defaults for the data a run asks for (by flag, config file or `--set`; the built-in
 * textures when none): DEMO_DEFAULTS on the generated sets; on real data one epoch of the preset
 * that data gets (`--preset auto`: for Fashion-MNIST the 28 px recipe, MNIST_RECIPE), written to
 * runs/demo.
 */
export function demoDefaults(data: string | undefined): Partial<DinoTrainConfig> {
  if (data === undefined || generatedData(data)) return DEMO_DEFAULTS;
  return { epochs: 1, out: DEMO_DEFAULTS.out };
}

/**
 * The demo's defaults: a small ViT on 2000 generated 32 px texture images, short enough for a CPU
 * adapter. Two changes to DINO's recipe make 250 steps show: KoLeo (DINOv2's spreading term) keeps
 * the teacher from drifting to uniform outputs, and hue jitter 0.5 with grayscale 0.5 stops the
 * random colours being the feature the views share (before/after 18.5/13.3 without either,
 * 18.5/28.3 with both: README).
 */
export const DEMO_DEFAULTS: Partial<DinoTrainConfig> = {
  data: "textures",
  syntheticCount: 2000,
  patchSize: 8,
  embedDim: 64,
  depth: 3,
  heads: 4,
  batchSize: 32,
  localCrops: 4,
  localSize: 16,
  lr: 2e-3,
  teacherTemp: 0.04,
  momentumTeacher: 0.99,
  outDim: 256,
  headHidden: 128,
  headBottleneck: 64,
  epochs: 5,
  warmupEpochs: 1,
  warmupTeacherTempEpochs: 2,
  koleoLossWeight: 0.3,
  colorJitter: [0.4, 0.4, 0.8, 0.5],
  grayscaleProbability: 0.5,
  logEvery: 10,
  out: "runs/demo",
};
