/**
 * A whole DINO run: data loading with prefetch, the step loop, metrics every `logEvery` steps
 * (the only readbacks), collapse warnings, k-NN evaluations of the teacher, checkpoints every
 * epoch and every `checkpointEvery` minutes, exact resumption, and a stop on a non-finite loss
 * that keeps the last good checkpoint.
 * @module
 */
import { dirname, join } from "node:path";
import type { Dataset } from "../data/dataset.ts";
import { DataLoader } from "../data/loader.ts";
import { collapseWarning } from "../eval/collapse.ts";
import { datasetToTensorBatches, extractFeatures } from "../eval/features.ts";
import { knnClassify } from "../eval/knn.ts";
import { gpu } from "../gpu/device.ts";
import { formatKernelTimes } from "../gpu/profiler.ts";
import { readAll } from "../tensor/tensor.ts";
import type { DinoTrainConfig } from "./config.ts";
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { DinoTrainer, type DinoTrainerOptions } from "./dino_trainer.ts";
import type { Backbone } from "./models.ts";

/** Where a resumed run moves the metrics lines its interrupted predecessor wrote after the checkpoint. */
export const INTERRUPTED_METRICS = "metrics.interrupted.jsonl";
/** The metrics file a run writes in its output folder, one JSON line per log step. */
export const METRICS_FILE = "metrics.jsonl";

/**
 * Moves the lines of `metricsPath` whose step is past `step` (a run killed after its last
 * checkpoint wrote them; the resumed run trains those steps again) to `INTERRUPTED_METRICS` beside
 * it, so the file reads as one run. Keeps lines it cannot parse. Returns the number moved.
 */
async function setAsideMetricsAfter(metricsPath: string, step: number): Promise<number> {
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
  const interrupted = join(dirname(metricsPath), INTERRUPTED_METRICS);
  await Deno.writeTextFile(interrupted, moved.join("\n") + "\n", { append: true });
  const temporary = metricsPath + ".tmp";
  await Deno.writeTextFile(temporary, kept.map((line) => line + "\n").join(""));
  await Deno.rename(temporary, metricsPath);
  return moved.length;
}

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
  /** Side of the global crops (resolution curriculum). */
  global_size?: number;
}

/** Progress of a run, reported after each step. */
export interface TrainProgress {
  /** Steps taken. */
  step: number;
  /** Steps of the whole run. */
  totalSteps: number;
  /** Epoch of the step. */
  epoch: number;
  /** Latest metrics, if any were read yet. */
  metrics?: MetricsLine;
}

/** Raised when the loss stops being finite; the last good checkpoint is kept. */
export class TrainingDivergedError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "TrainingDivergedError";
  }
}

/** Inputs of a run. */
export interface TrainRunOptions {
  /** The configuration. */
  config: DinoTrainConfig;
  /** Training images (labels unused by training, used by k-NN). */
  train: Dataset;
  /** Held-out images for k-NN; none disables evaluation. */
  test?: Dataset;
  /** Resume from this output folder (or checkpoint folder). */
  resume?: string;
  /** Called after every step. */
  onProgress?: (progress: TrainProgress) => void;
  /** Called with each message worth showing a person (warnings, evaluations, checkpoints). */
  onMessage?: (message: string) => void;
  /**
   * Called after each checkpoint with its folder, once metrics.jsonl has every line up to it
   * (the CLI draws curves.png there); its time is left out of the images/s.
   */
  onCheckpoint?: (checkpoint: string) => Promise<void> | void;
  /** A frozen teacher (distillation); without it the teacher is the student's EMA. */
  teacher?: DinoTrainerOptions["teacher"];
  /**
   * Time every kernel on the GPU after two warm-up steps and report the table through
   * `onMessage` at the end (needs `timestamp-query`).
   */
  profile?: boolean;
}

/** What a run reports. */
export interface TrainRunResult {
  /** Steps taken in all (including resumed ones). */
  steps: number;
  /** k-NN top-1 of the teacher before training (percent), when evaluated. */
  knnBefore?: number;
  /** k-NN top-1 of the teacher at the end (percent), when evaluated. */
  knnAfter?: number;
  /** Losses read back, by step. */
  losses: Map<number, number>;
  /** Folder of the last checkpoint. */
  checkpoint: string;
  /** Training images per second over the run (steps of this process). */
  imagesPerSecond: number;
  /** Highest GPU memory allocated by the buffer pool during the run, in bytes. */
  peakGpuBytes: number;
}

/** k-NN top-1/top-5 (percent) of a backbone's features: test split against the train split. */
export async function evaluateKnn(
  backbone: Backbone,
  train: Dataset,
  test: Dataset,
  size: number,
  trainLimit = 0,
): Promise<{ top1: number; top5: number }> {
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

/** Runs DINO training as configured; see the module doc. */
export async function runDinoTraining(options: TrainRunOptions): Promise<TrainRunResult> {
  const { config, train, test } = options;
  const message = options.onMessage ?? (() => {});
  const loader = new DataLoader(train, {
    batchSize: config.batchSize,
    seed: config.seed,
    size: [config.imageSize, config.imageSize],
  });
  const stepsPerEpoch = loader.batchesPerEpoch;
  const trainer = new DinoTrainer(config, stepsPerEpoch, { teacher: options.teacher });
  const totalSteps = config.maxSteps > 0
    ? Math.min(config.maxSteps, config.epochs * stepsPerEpoch)
    : config.epochs * stepsPerEpoch;
  const metricsPath = join(config.out, METRICS_FILE);
  const appendMetrics = (line: object) =>
    Deno.writeTextFile(metricsPath, JSON.stringify(line) + "\n", { append: true });
  await Deno.mkdir(config.out, { recursive: true });
  const losses = new Map<number, number>();
  let knnBefore: number | undefined;
  let knnAfter: number | undefined;
  let pausedMilliseconds = 0; // evaluations and checkpoints, left out of images/s
  const evaluate = async (label: string) => {
    if (!test) return undefined;
    const began = performance.now();
    const result = await evaluateKnn(
      trainer.evaluationBackbone,
      train,
      test,
      trainer.globalSize,
      config.evalTrainLimit,
    );
    message(`k-NN ${label}: top-1 ${result.top1.toFixed(2)}%, top-5 ${result.top5.toFixed(2)}%`);
    pausedMilliseconds += performance.now() - began;
    return result;
  };
  let lastCheckpoint = "";
  if (options.resume) {
    const info = await loadCheckpoint(trainer, options.resume);
    lastCheckpoint = await latestCheckpoint(options.resume);
    message(`resumed from ${options.resume} at step ${info.step} (epoch ${info.epoch})`);
    const setAside = await setAsideMetricsAfter(metricsPath, info.step);
    if (setAside > 0) {
      message(
        `metrics.jsonl: ${setAside} lines after step ${info.step} (written by the interrupted ` +
          `run, whose steps are trained again) moved to ${INTERRUPTED_METRICS}`,
      );
    }
  } else {
    await Deno.writeTextFile(metricsPath, "");
    const before = await evaluate("before training");
    knnBefore = before?.top1;
    if (before) {
      // the random-init point of the k-NN curve: step 0, no training metrics yet
      const line = { step: 0, epoch: 0, knn_top1: before.top1, knn_top5: before.top5 };
      await appendMetrics(line);
    }
  }
  gpu().pool.resetPeak();
  let lastCheckpointTime = performance.now();
  let lastLogTime = performance.now();
  let lastLogStep = trainer.step;
  const startStep = trainer.step;
  const startTime = performance.now();
  pausedMilliseconds = 0; // the evaluation before training is not part of the run's time
  let metrics: MetricsLine | undefined;
  const writeCheckpoint = async () => {
    const began = performance.now();
    lastCheckpoint = await saveCheckpoint(trainer, config.out, { metrics });
    message(`checkpoint ${lastCheckpoint}`);
    await options.onCheckpoint?.(lastCheckpoint);
    lastCheckpointTime = performance.now();
    pausedMilliseconds += lastCheckpointTime - began;
  };
  const describeLast = () =>
    lastCheckpoint ? `the last good checkpoint is ${lastCheckpoint}` : "no checkpoint was written";
  try {
    while (trainer.step < totalSteps) {
      const epoch = trainer.epoch;
      const order = loader.order(epoch);
      const first = trainer.step - epoch * stepsPerEpoch;
      const indicesOf = (step: number) =>
        order.subarray(step * config.batchSize, (step + 1) * config.batchSize);
      let next = loader.batch(indicesOf(first), epoch, first);
      for (let inEpoch = first; inEpoch < stepsPerEpoch && trainer.step < totalSteps; inEpoch++) {
        const batch = await next;
        if (inEpoch + 1 < stepsPerEpoch) {
          next = loader.batch(indicesOf(inEpoch + 1), epoch, inEpoch + 1);
        }
        if (await trainer.syncPhase()) {
          message(
            `step ${trainer.step}: resolution phase ${trainer.phase}, global crops ` +
              `${trainer.globalSize} px`,
          );
        }
        const at = trainer.step;
        const result = trainer.trainStep(batch);
        const stepNumber = trainer.step;
        const logNow = stepNumber % config.logEvery === 0 || stepNumber === totalSteps ||
          inEpoch === stepsPerEpoch - 1;
        if (logNow) {
          const extras = [result.ibotLoss, result.koleoLoss].filter((t) => t !== undefined);
          const [loss, entropy, kl, centre, ...extraValues] = await readAll([
            result.loss,
            result.teacherEntropy,
            result.klDivergence,
            result.centerNormSquared,
            ...extras,
          ]);
          const now = performance.now();
          const images = (stepNumber - lastLogStep) * config.batchSize;
          metrics = {
            step: stepNumber,
            epoch: stepNumber / stepsPerEpoch,
            loss: loss[0],
            lr: trainer.schedules.lr[at],
            wd: trainer.schedules.weightDecay[at],
            momentum: trainer.schedules.momentum[at],
            teacher_temp: trainer.schedules.teacherTemperature[Math.min(epoch, config.epochs - 1)],
            teacher_entropy: entropy[0],
            kl: kl[0],
            center_norm: Math.sqrt(centre[0]),
            images_per_second: images / ((now - lastLogTime) / 1000),
          };
          if (result.ibotLoss) metrics.ibot_loss = extraValues.shift()![0];
          if (result.koleoLoss) metrics.koleo_loss = extraValues.shift()![0];
          if (config.resolutionSchedule.length > 0) metrics.global_size = trainer.globalSize;
          lastLogTime = now;
          lastLogStep = stepNumber;
          losses.set(stepNumber, loss[0]);
          if (!Number.isFinite(loss[0])) {
            throw new TrainingDivergedError(
              `loss is ${loss[0]} at step ${stepNumber}` +
                (config.logEvery > 1
                  ? ` (read every ${config.logEvery} steps: it went bad after step ${
                    stepNumber - config.logEvery
                  })`
                  : "") +
                `; stopping: ${describeLast()}`,
            );
          }
          const warning = collapseWarning(entropy[0], config.outDim);
          if (warning) message(`warning at step ${stepNumber}: ${warning}`);
          await appendMetrics(metrics);
        }
        for (const value of Object.values(result)) value.dispose();
        if (options.profile && stepNumber === startStep + 2 && !gpu().startProfiling()) {
          message("--profile: this adapter has no timestamp-query; no kernel times");
        }
        options.onProgress?.({ step: stepNumber, totalSteps, epoch, metrics });
        const minutes = (performance.now() - lastCheckpointTime) / 60000;
        if (config.checkpointEvery > 0 && minutes >= config.checkpointEvery) {
          await writeCheckpoint();
        }
      }
      const epochDone = trainer.step % stepsPerEpoch === 0;
      if (epochDone || trainer.step >= totalSteps) {
        const finishedEpoch = Math.ceil(trainer.step / stepsPerEpoch);
        if (
          test && config.evalEvery > 0 && epochDone && finishedEpoch % config.evalEvery === 0 &&
          trainer.step < totalSteps
        ) {
          const result = await evaluate(`after epoch ${finishedEpoch}`);
          if (result && metrics) {
            const line = { ...metrics, knn_top1: result.top1, knn_top5: result.top5 };
            await appendMetrics(line);
          }
        }
        await writeCheckpoint();
      }
    }
    const seconds = (performance.now() - startTime - pausedMilliseconds) / 1000;
    const profiler = gpu().profiler;
    if (options.profile && profiler) {
      gpu().flush();
      await profiler.collect();
      gpu().profiler = undefined;
      message(formatKernelTimes(profiler.report()));
    }
    const after = await evaluate("after training");
    knnAfter = after?.top1;
    if (after && metrics) {
      const line = { ...metrics, knn_top1: after.top1, knn_top5: after.top5 };
      await appendMetrics(line);
    }
    return {
      steps: trainer.step,
      knnBefore,
      knnAfter,
      losses,
      checkpoint: lastCheckpoint,
      imagesPerSecond: ((trainer.step - startStep) * config.batchSize) / seconds,
      peakGpuBytes: gpu().pool.counters.peakAllocatedBytes,
    };
  } finally {
    trainer.dispose();
  }
}
