/**
 * What a run reports about itself: metrics.jsonl (one JSON line per logged step; the step's
 * monitors are read back from the GPU only then, in one readback), k-NN evaluations of the
 * teacher, the run's clock (training time without evaluations and checkpoints), and the lines a
 * resumed run sets aside.
 * @module
 */
import { dirname, join } from "node:path";
import type { Dataset } from "../data/dataset.ts";
import { datasetToTensorBatches, extractFeatures } from "../eval/features.ts";
import { knnClassify } from "../eval/knn.ts";
import { readAll } from "../tensor/tensor.ts";
import type { DinoTrainer } from "./dino_trainer.ts";
import type { Backbone } from "./models.ts";
import {
  appendWhole,
  DENO_FILE_SYSTEM,
  type RunFileSystem,
  writeFailure,
  writeWhole,
} from "./run_folder.ts";
import { teacherTemperatureAt } from "./schedules.ts";
import type { StepResult } from "./step.ts";

/** Where a resumed run moves the metrics lines its interrupted predecessor wrote after the checkpoint. */
export const INTERRUPTED_METRICS = "metrics.interrupted.jsonl";
/** The metrics file a run writes in its output folder, one JSON line per log step. */
export const METRICS_FILE = "metrics.jsonl";

/**
 * One metrics line (also written to metrics.jsonl). With a test split, a new run's first line is
 * the k-NN before training: step 0, epoch 0 and the k-NN fields only.
 */
export interface MetricsLine {
  /** Steps taken. */
  step: number;
  /** Epoch (fractional: step / steps per epoch). */
  epoch: number;
  /** Loss of the last step. */
  loss: number;
  /** Learning rate of the last step. */
  lr: number;
  /** Weight decay of the last step. */
  wd: number;
  /** Teacher momentum of the last step. */
  momentum: number;
  /** Teacher temperature of the last step. */
  teacher_temp: number;
  /** Mean teacher entropy (nats). */
  teacher_entropy: number;
  /** Mean KL(teacher || student). */
  kl: number;
  /** L2 norm of the centre. */
  center_norm: number;
  /** Training images per second since the previous line. */
  images_per_second: number;
  /** k-NN top-1 (percent), on evaluation lines. */
  knn_top1?: number;
  /** k-NN top-5 (percent), on evaluation lines. */
  knn_top5?: number;
  /** iBOT patch loss (unweighted), when iBOT is on. */
  ibot_loss?: number;
  /** KoLeo loss (unweighted), when KoLeo is on. */
  koleo_loss?: number;
  /** Gram anchoring loss (unweighted), from the step the Gram loss starts. */
  gram_loss?: number;
  /** Side of the global crops (resolution curriculum, high-resolution phase). */
  global_size?: number;
  /**
   * Steps this process skipped so far because their gradients were not finite (the step guard),
   * once it skipped any; the line's own step was one when `skipped_in_a_row` is above 0.
   */
  skipped_steps?: number;
  /** Steps skipped in a row up to this line's step, once any step was skipped. */
  skipped_in_a_row?: number;
}

/** k-NN accuracies (percent). */
export interface KnnAccuracy {
  /** Top-1. */
  top1: number;
  /** Top-5. */
  top5: number;
}

/** The metrics file of a run, the losses read so far, and the images/s between lines. */
export class MetricsLog {
  /** The file (metrics.jsonl in the run's folder). */
  readonly path: string;
  /** Losses read back, by step. */
  readonly losses = new Map<number, number>();
  /** The latest line of training metrics, if any. */
  last: MetricsLine | undefined;
  #lastTime = performance.now();
  #lastStep = 0;

  /** The log of the run writing into `out` through `fileSystem`. */
  constructor(
    readonly out: string,
    readonly fileSystem: RunFileSystem = DENO_FILE_SYSTEM,
  ) {
    this.path = join(out, METRICS_FILE);
  }

  /** Empties the file (a new run). */
  async clear(): Promise<void> {
    try {
      await writeWhole(this.fileSystem, this.path, new Uint8Array(0));
    } catch (error) {
      throw await writeFailure(this.out, this.path, error);
    }
  }

  /** Measures images/s from now and step `step` on. */
  startAt(step: number): void {
    this.#lastTime = performance.now();
    this.#lastStep = step;
  }

  /** Appends one JSON line, whole or not at all (an `OutputWriteError` when it cannot). */
  async append(line: object): Promise<void> {
    try {
      await appendWhole(this.fileSystem, this.path, JSON.stringify(line) + "\n");
    } catch (error) {
      throw await writeFailure(this.out, this.path, error);
    }
  }

  /**
   * Appends an evaluation line at the latest training line's step and epoch (when there is one):
   * the k-NN accuracies only, so no training metric appears twice at a step.
   */
  async appendKnn(knn: KnnAccuracy): Promise<void> {
    if (!this.last) return;
    const { step, epoch } = this.last;
    await this.append({ step, epoch, knn_top1: knn.top1, knn_top5: knn.top5 });
  }

  /**
   * Reads the monitors of `result` (one readback), the step just taken by `trainer` with the
   * schedules' values at index `at`, into a line (kept as `last`, not yet written).
   */
  async read(result: StepResult, trainer: DinoTrainer, at: number): Promise<MetricsLine> {
    const { config, schedules } = trainer;
    const extras = [result.ibotLoss, result.koleoLoss, result.gramLoss].filter((t) =>
      t !== undefined
    );
    const [loss, entropy, kl, centre, skipped, ...extraValues] = await readAll([
      result.loss,
      result.teacherEntropy,
      result.klDivergence,
      result.centerNormSquared,
      result.skippedSteps,
      ...extras,
    ]);
    const now = performance.now();
    const step = trainer.step;
    const line: MetricsLine = {
      step,
      epoch: step / trainer.stepsPerEpoch,
      loss: loss[0],
      lr: schedules.lr[at],
      wd: schedules.weightDecay[at],
      momentum: schedules.momentum[at],
      teacher_temp: teacherTemperatureAt(config, schedules, trainer.stepsPerEpoch, at),
      teacher_entropy: entropy[0],
      kl: kl[0],
      center_norm: Math.sqrt(centre[0]),
      images_per_second: (step - this.#lastStep) * config.batchSize /
        ((now - this.#lastTime) / 1000),
    };
    if (result.ibotLoss) line.ibot_loss = extraValues.shift()![0];
    if (result.koleoLoss) line.koleo_loss = extraValues.shift()![0];
    if (result.gramLoss) line.gram_loss = extraValues.shift()![0];
    if (config.resolutionSchedule.length > 0 || config.highResSize > 0) {
      line.global_size = trainer.globalSize;
    }
    if (skipped[0] > 0) {
      line.skipped_steps = skipped[0];
      line.skipped_in_a_row = skipped[1];
    }
    this.#lastTime = now;
    this.#lastStep = step;
    this.losses.set(step, loss[0]);
    this.last = line;
    return line;
  }
}

/**
 * Moves the lines of `metricsPath` whose step is past `step` (a run killed after its last
 * checkpoint wrote them; the resumed run trains those steps again) to `INTERRUPTED_METRICS` beside
 * it, so the file reads as one run. Keeps lines it cannot parse. Returns the number moved.
 * Writes through `fileSystem`; a failed write throws an `OutputWriteError`.
 */
export async function setAsideMetricsAfter(
  metricsPath: string,
  step: number,
  fileSystem: RunFileSystem = DENO_FILE_SYSTEM,
): Promise<number> {
  let text: string;
  try {
    text = await Deno.readTextFile(metricsPath);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
  const kept: string[] = [];
  const moved: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let lineStep: unknown;
    try {
      lineStep = JSON.parse(line)?.step;
    } catch {
      lineStep = undefined;
    }
    (typeof lineStep === "number" && lineStep > step ? moved : kept).push(line);
  }
  if (moved.length === 0) return 0;
  const out = dirname(metricsPath);
  const interrupted = join(out, INTERRUPTED_METRICS);
  let writing = interrupted;
  try {
    await appendWhole(fileSystem, interrupted, moved.join("\n") + "\n");
    writing = metricsPath;
    const text = kept.map((line) => line + "\n").join("");
    await writeWhole(fileSystem, metricsPath, new TextEncoder().encode(text));
  } catch (error) {
    throw await writeFailure(out, writing, error);
  }
  return moved.length;
}

/** k-NN top-1/top-5 (percent) of a backbone's features: test split against the train split. */
export async function evaluateKnn(
  backbone: Backbone,
  train: Dataset,
  test: Dataset,
  size: number,
  trainLimit = 0,
): Promise<KnnAccuracy> {
  const batches = (dataset: Dataset, limit?: number) =>
    datasetToTensorBatches(dataset, { size, batchSize: 128, limit });
  const bank = await extractFeatures(backbone, batches(train, trainLimit || undefined));
  const queries = await extractFeatures(backbone, batches(test));
  const result = await knnClassify(
    { features: bank.features, dim: bank.dim, labels: bank.labels },
    { features: queries.features, dim: queries.dim, labels: queries.labels },
    { k: 20, temperature: 0.07, classes: Math.max(train.classes, test.classes) },
  );
  return { top1: 100 * result.top1, top5: 100 * result.top5 };
}

/** A run's training time: wall time since `restart`, less the pauses (evaluations, checkpoints). */
export class RunClock {
  #start = performance.now();
  #paused = 0;
  /** When the last checkpoint was written (or the run started). */
  lastCheckpoint = performance.now();

  /** Starts counting from now, forgetting earlier pauses. */
  restart(): void {
    this.#start = this.lastCheckpoint = performance.now();
    this.#paused = 0;
  }

  /** Runs `work`, its time left out of the training time. */
  async pause<T>(work: () => Promise<T>): Promise<T> {
    const began = performance.now();
    try {
      return await work();
    } finally {
      this.#paused += performance.now() - began;
    }
  }

  /** Seconds of training so far. */
  get seconds(): number {
    return (performance.now() - this.#start - this.#paused) / 1000;
  }

  /** Minutes since the last checkpoint. */
  get minutesSinceCheckpoint(): number {
    return (performance.now() - this.lastCheckpoint) / 60000;
  }
}
