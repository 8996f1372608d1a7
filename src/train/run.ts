/**
 * A whole DINO run: data loading with prefetch, the step loop (src/train/loop.ts), metrics every
 * `logEvery` steps (the only readbacks), collapse warnings, k-NN evaluations of the teacher
 * (src/train/metrics.ts), checkpoints every epoch and every `checkpointEvery` minutes, exact
 * resumption, and a stop on a non-finite loss that keeps the last good checkpoint.
 * @module
 */
import type { Dataset } from "../data/dataset.ts";
import { DataLoader } from "../data/loader.ts";
import { IndexedImages } from "../data/stream/image_index.ts";
import { StreamLoader } from "../data/stream/stream_loader.ts";
import type { CropView } from "../data/stream/crop_job.ts";
import { gpu } from "../gpu/device.ts";
import { formatKernelTimes } from "../gpu/profiler.ts";
import type { DinoTrainConfig } from "./config.ts";
import {
  latestCheckpoint,
  loadCheckpoint,
  prepareCheckpointFolder,
  readCheckpointInfo,
} from "./checkpoint.ts";
import { phaseAt, type ResolutionPhase, resolutionPhases, runSteps } from "./curriculum.ts";
import { DinoTrainer, type DinoTrainerOptions } from "./dino_trainer.ts";
import { startingWeightShare } from "./schedules.ts";
import { evaluate, type TrainingRun, trainLoop } from "./loop.ts";
import {
  INTERRUPTED_METRICS,
  type MetricsLine,
  MetricsLog,
  RunClock,
  setAsideMetricsAfter,
} from "./metrics.ts";
import { DENO_FILE_SYSTEM, type RunFileSystem } from "./run_folder.ts";

export { TrainingDivergedError } from "./loop.ts";
export { OutputWriteError, type RunFileSystem } from "./run_folder.ts";
export {
  evaluateKnn,
  INTERRUPTED_METRICS,
  type KnnAccuracy,
  METRICS_FILE,
  type MetricsLine,
} from "./metrics.ts";

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

/** Inputs of a run. */
export interface TrainRunOptions {
  /** The configuration. */
  config: DinoTrainConfig;
  /** Training images (labels unused by training; the k-NN's memory bank unless `bank`). */
  train: Dataset;
  /** Held-out images for k-NN (the queries); none disables evaluation. */
  test?: Dataset;
  /**
   * The k-NN's labelled memory bank (its first `evalTrainLimit` images), when the evaluation uses
   * another set than the training data (`evalData`); default `train`.
   */
  bank?: Dataset;
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
  /** Decoding workers of a streamed source (folder:, list:, tar:); default one per core. */
  workers?: number;
  /** Batches a streamed source prepares ahead; default 2. */
  prefetch?: number;
  /** This process's part of every epoch of a streamed source: [index, count]; default [0, 1]. */
  shard?: [number, number];
  /**
   * Time every kernel on the GPU after two warm-up steps and report the table through
   * `onMessage` at the end (needs `timestamp-query`).
   */
  profile?: boolean;
  /**
   * Where the run's files are written (default: the real file system); a failed write ends the
   * run with an `OutputWriteError` (src/train/run_folder.ts).
   */
  fileSystem?: RunFileSystem;
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

/** Runs DINO training as configured; see the module doc. */
export async function runDinoTraining(options: TrainRunOptions): Promise<TrainRunResult> {
  const resumeStep = options.resume ? (await readCheckpointInfo(options.resume)).step : 0;
  const run = createRun(options, resumeStep);
  try {
    const ready = await prepareCheckpointFolder(run.trainer, run.config.out, run.fileSystem);
    ready.forEach(run.message);
    let knnBefore: number | undefined;
    if (options.resume) await resumeRun(run, options.resume);
    else knnBefore = await startRun(run);
    warnOfSlowStudentEma(run);
    gpu().pool.resetPeak();
    run.clock.restart(); // the evaluation before training is not part of the run's time
    run.startStep = run.trainer.step;
    run.metrics.startAt(run.startStep);
    await trainLoop(run);
    return await finishRun(run, knnBefore);
  } finally {
    run.loader.close?.();
    run.trainer.dispose();
  }
}

function createRun(options: TrainRunOptions, startStep: number): TrainingRun {
  const { config } = options;
  // the phases depend on the run's length, known once the loader is: filled in below
  const late: { phases?: ResolutionPhase[] } = {};
  const loader = options.train instanceof IndexedImages
    ? new StreamLoader(options.train, {
      batchSize: config.batchSize,
      seed: config.seed,
      workers: options.workers,
      prefetch: options.prefetch,
      shardIndex: options.shard?.[0],
      shardCount: options.shard?.[1],
      views: (step) => cropViews(config, late.phases!, step),
      onSkip: (skipped) => options.onMessage?.(`skipped ${skipped.path}: ${skipped.reason}`),
    })
    : new DataLoader(options.train, {
      batchSize: config.batchSize,
      seed: config.seed,
      size: [config.imageSize, config.imageSize],
    });
  const stepsPerEpoch = loader.batchesPerEpoch;
  const allSteps = runSteps(config, stepsPerEpoch);
  late.phases = resolutionPhases(config, config.epochs * stepsPerEpoch);
  if (loader instanceof StreamLoader) {
    // the workers cut the first batches while the networks are built
    const epoch = Math.floor(startStep / stepsPerEpoch);
    loader.prime(epoch, startStep - epoch * stepsPerEpoch, epoch * stepsPerEpoch);
  }
  return {
    options,
    config,
    loader,
    trainer: new DinoTrainer(config, stepsPerEpoch, { teacher: options.teacher }),
    totalSteps: config.maxSteps > 0 ? Math.min(config.maxSteps, allSteps) : allSteps,
    metrics: new MetricsLog(config.out, options.fileSystem),
    clock: new RunClock(),
    message: options.onMessage ?? (() => {}),
    startStep: 0,
    lastCheckpoint: "",
    fileSystem: options.fileSystem ?? DENO_FILE_SYSTEM,
  };
}

/** The views the workers cut at a global step: 2 global + N local, at that step's phase sizes. */
function cropViews(config: DinoTrainConfig, phases: ResolutionPhase[], step: number): CropView[] {
  const phase = phases[phaseAt(phases, step)];
  const global = { size: phase.globalSize, scale: config.globalScale };
  const local = { size: phase.localSize, scale: config.localScale };
  return [global, global, ...Array.from({ length: config.localCrops }, () => local)];
}

/**
 * Distillation evaluates and saves the student's EMA; on the teacher momentum's schedule a short
 * run leaves much of the student's initial weights in it (DINOv3 runs tens of thousands of
 * steps). Says so when more than 1% would remain at the end.
 */
function warnOfSlowStudentEma(run: TrainingRun): void {
  const { trainer, config } = run;
  if (!trainer.studentEma) return;
  const share = startingWeightShare(trainer.schedules.momentum, 0, run.totalSteps);
  if (share <= 0.01) return;
  run.message(
    `note: after ${run.totalSteps} steps at teacher momentum ${config.momentumTeacher} -> 1 the ` +
      `student's EMA (the model this run evaluates and saves) still holds ` +
      `${(share * 100).toFixed(0)}% of the student's initial weights; for a run this short lower ` +
      `the momentum (--set momentumTeacher=0.98) or keep the student itself ` +
      `(--set studentEma=false)`,
  );
}

/** Images of `bank` a k-NN evaluation uses: its first `evalTrainLimit` (0: all). */
export function knnBankImages(bank: Dataset, evalTrainLimit: number): number {
  return evalTrainLimit > 0 ? Math.min(evalTrainLimit, bank.length) : bank.length;
}

/** Streamed images above which `knnBeforeTraining: "auto"` leaves the k-NN before training out. */
export const KNN_BEFORE_TRAINING_IMAGES = 10_000;

/**
 * Whether a new run evaluates the k-NN before training: `knnBeforeTraining`, and under "auto" the
 * number of streamed images (decoded from their files, one by one) its bank and queries hold. When
 * it does not, `skipped` says why in one line for a person.
 */
export function knnBeforeTraining(
  config: Pick<DinoTrainConfig, "knnBeforeTraining" | "evalTrainLimit">,
  bank: Dataset,
  queries: Dataset | undefined,
): { evaluate: boolean; skipped?: string } {
  if (!queries || config.knnBeforeTraining === "never") return { evaluate: false };
  if (config.knnBeforeTraining === "always") return { evaluate: true };
  const bankImages = knnBankImages(bank, config.evalTrainLimit);
  const streamed = (bank instanceof IndexedImages ? bankImages : 0) +
    (queries instanceof IndexedImages ? queries.length : 0);
  if (streamed <= KNN_BEFORE_TRAINING_IMAGES) return { evaluate: true };
  return {
    evaluate: false,
    skipped: `k-NN before training left out: it would decode ${streamed} images from their ` +
      `files before the first step (${bankImages} bank + ${queries.length} queries, over ` +
      `${KNN_BEFORE_TRAINING_IMAGES}); --set knnBeforeTraining=always runs it, a smaller ` +
      `--eval-train-limit or --eval-data set brings it under`,
  };
}

/** A new run: an empty metrics.jsonl, then the k-NN before training (step 0). Returns its top-1. */
async function startRun(run: TrainingRun): Promise<number | undefined> {
  await run.metrics.clear();
  const { train, test, bank = train } = run.options;
  const plan = knnBeforeTraining(run.config, bank, test);
  if (plan.skipped) run.message(plan.skipped);
  const before = plan.evaluate ? await evaluate(run, "before training") : undefined;
  // the random-init point of the k-NN curve: step 0, no training metrics yet
  if (before) {
    await run.metrics.append({ step: 0, epoch: 0, knn_top1: before.top1, knn_top5: before.top5 });
  }
  return before?.top1;
}

/** Restores the trainer from `from`, and sets aside the metrics lines written after it. */
async function resumeRun(run: TrainingRun, from: string): Promise<void> {
  const info = await loadCheckpoint(run.trainer, from);
  run.lastCheckpoint = await latestCheckpoint(from);
  run.message(`resumed from ${from} at step ${info.step} (epoch ${info.epoch})`);
  const sampler = info.sampler;
  if (sampler && (sampler.images !== run.loader.images || sampler.seed !== run.config.seed)) {
    run.message(
      `warning: the checkpoint's sampler drew from ${sampler.images} images (seed ` +
        `${sampler.seed}), the data now holds ${run.loader.images}: the order from here on ` +
        "differs from the interrupted run's",
    );
  }
  const setAside = await setAsideMetricsAfter(run.metrics.path, info.step, run.fileSystem);
  if (setAside > 0) {
    run.message(
      `metrics.jsonl: ${setAside} lines after step ${info.step} (written by the interrupted ` +
        `run, whose steps are trained again) moved to ${INTERRUPTED_METRICS}`,
    );
  }
}

/** The run's result, after the kernel-time table (with `profile`) and the final k-NN. */
async function finishRun(run: TrainingRun, knnBefore: number | undefined): Promise<TrainRunResult> {
  const seconds = run.clock.seconds;
  if (run.options.profile && gpu().profiler) {
    run.message(formatKernelTimes(await gpu().stopProfiling()));
  }
  const after = await evaluate(run, "after training");
  if (after) await run.metrics.appendKnn(after);
  return {
    steps: run.trainer.step,
    knnBefore,
    knnAfter: after?.top1,
    losses: run.metrics.losses,
    checkpoint: run.lastCheckpoint,
    imagesPerSecond: ((run.trainer.step - run.startStep) * run.config.batchSize) / seconds,
    peakGpuBytes: gpu().pool.counters.peakAllocatedBytes,
  };
}
