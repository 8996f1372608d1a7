/**
 * The step loop of a run: epoch by epoch, each batch decoded while the previous step runs; after
 * each step the metrics line (every `logEvery` steps and at each epoch's end), progress and the
 * timed checkpoint; after each epoch the k-NN (every `evalEvery` epochs) and a checkpoint.
 * @module
 */
import type { Batch } from "../data/loader.ts";
import type { SkippedImage } from "../data/image_folder.ts";
import { collapseWarning } from "../eval/collapse.ts";
import { gpu } from "../gpu/device.ts";
import { type SamplerState, saveCheckpoint } from "./checkpoint.ts";
import type { DinoTrainConfig } from "./config.ts";
import type { DinoTrainer } from "./dino_trainer.ts";
import { evaluateKnn, type KnnAccuracy, type MetricsLog, type RunClock } from "./metrics.ts";
import type { TrainRunOptions } from "./run.ts";
import type { RunFileSystem } from "./run_folder.ts";
import type { StepResult } from "./step.ts";

/** Raised when the loss stops being finite; the last good checkpoint is kept. */
export class TrainingDivergedError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "TrainingDivergedError";
  }
}

/** Where a run's batches come from: the in-memory `DataLoader` or the streaming `StreamLoader`. */
export interface BatchSource {
  /** Batches per epoch. */
  readonly batchesPerEpoch: number;
  /** The batches of `epoch` from `first` on (`stepOffset`: the global step of its batch 0). */
  batches(epoch: number, first: number, stepOffset: number): AsyncGenerator<Batch>;
  /** Images drawn from (all shards). */
  readonly images: number;
  /** This process's part of every epoch (streaming sources). */
  readonly shardIndex?: number;
  /** Number of parts (streaming sources). */
  readonly shardCount?: number;
  /** Files found unreadable so far (streaming sources). */
  readonly skipped?: readonly SkippedImage[];
  /** Stops its workers, if it has any. */
  close?(): void;
}

/** A run in progress: what the loop, the metrics and the checkpoints share. */
export interface TrainingRun {
  /** How the run was asked for. */
  readonly options: TrainRunOptions;
  /** Its configuration. */
  readonly config: DinoTrainConfig;
  /** The batches. */
  readonly loader: BatchSource;
  /** The networks and the step. */
  readonly trainer: DinoTrainer;
  /** Steps the run ends at. */
  readonly totalSteps: number;
  /** metrics.jsonl and the losses read. */
  readonly metrics: MetricsLog;
  /** Training time without evaluations and checkpoints. */
  readonly clock: RunClock;
  /** Shows a message to a person. */
  readonly message: (text: string) => void;
  /** Step the run (this process) started at. */
  startStep: number;
  /** Folder of the last checkpoint ("" before the first). */
  lastCheckpoint: string;
  /** Where the run's files are written (a test's fake can fail any write). */
  readonly fileSystem: RunFileSystem;
}

/** Trains from the trainer's step to the run's last, epoch by epoch. */
export async function trainLoop(run: TrainingRun): Promise<void> {
  while (run.trainer.step < run.totalSteps) {
    await trainEpoch(run);
    await endEpoch(run);
  }
}

/** The steps of the current epoch from the trainer's step on, up to the epoch's or run's end. */
async function trainEpoch(run: TrainingRun): Promise<void> {
  const { trainer, loader } = run;
  const epoch = trainer.epoch;
  const first = trainer.step - epoch * trainer.stepsPerEpoch;
  for await (const { batch, inEpoch } of epochBatches(loader, epoch, first, run)) {
    if (await trainer.syncPhase()) {
      run.message(
        `step ${trainer.step}: resolution phase ${trainer.phase}, global crops ` +
          `${trainer.globalSize} px`,
      );
    }
    const at = trainer.step;
    if (at === run.startStep) {
      // performance.now() counts from the process's start
      run.message(`first batch ready ${(performance.now() / 1000).toFixed(1)} s after start`);
    }
    const result = trainer.trainStep(batch);
    const lastOfEpoch = inEpoch === trainer.stepsPerEpoch - 1;
    if (
      trainer.step % run.config.logEvery === 0 || trainer.step === run.totalSteps || lastOfEpoch
    ) {
      await logStep(run, result, at);
    }
    for (const value of Object.values(result)) value.dispose();
    await afterStep(run, epoch);
  }
}

/**
 * The batches of `epoch` from index `first` while the run has steps left, each prepared while the
 * step before it runs.
 */
async function* epochBatches(
  loader: BatchSource,
  epoch: number,
  first: number,
  run: TrainingRun,
): AsyncGenerator<{ batch: Batch; inEpoch: number }> {
  const stepsPerEpoch = run.trainer.stepsPerEpoch;
  let inEpoch = first;
  for await (const batch of loader.batches(epoch, first, epoch * stepsPerEpoch)) {
    if (run.trainer.step >= run.totalSteps) return;
    yield { batch, inEpoch: inEpoch++ };
  }
}

/**
 * Steps skipped in a row (gradients not finite, `StepGuard`) at which a run stops: one overflow is
 * survived, a run whose every step overflows has diverged.
 */
export const MAX_SKIPPED_IN_A_ROW = 3;

/**
 * Reads the step's monitors; warns of steps skipped since the last line (their gradients were not
 * finite, so nothing was updated) and stops once `MAX_SKIPPED_IN_A_ROW` were skipped in a row, or
 * on a non-finite loss in a step that was not skipped; warns of collapse; appends the line (not
 * for a skipped step whose loss is not finite: metrics.jsonl keeps numbers).
 */
async function logStep(run: TrainingRun, result: StepResult, at: number): Promise<void> {
  const { config } = run;
  const before = run.metrics.last?.skipped_steps ?? 0;
  const line = await run.metrics.read(result, run.trainer, at);
  const skipped = line.skipped_steps ?? 0;
  const inARow = line.skipped_in_a_row ?? 0;
  const stop = (what: string) => {
    const last = run.lastCheckpoint
      ? `the last good checkpoint is ${run.lastCheckpoint}`
      : "no checkpoint was written";
    return new TrainingDivergedError(`${what}; stopping: ${last}`);
  };
  if (inARow >= MAX_SKIPPED_IN_A_ROW) {
    throw stop(
      `gradients were not finite (loss ${line.loss}) at ${inARow} steps in a row up to step ` +
        `${line.step}, all skipped`,
    );
  }
  if (skipped > before) {
    const count = skipped - before;
    run.message(
      `warning at step ${line.step}: ${count} step${count === 1 ? "" : "s"} skipped since the ` +
        `last line (gradients not finite; weights, optimizer state and centres left as they were)`,
    );
  }
  if (!Number.isFinite(line.loss)) {
    if (inARow > 0) return;
    throw stop(
      `loss is ${line.loss} at step ${line.step}` +
        (config.logEvery > 1
          ? ` (read every ${config.logEvery} steps: it went bad after step ${
            line.step - config.logEvery
          })`
          : ""),
    );
  }
  const warning = collapseWarning(line.teacher_entropy, config.outDim);
  if (warning) run.message(`warning at step ${line.step}: ${warning}`);
  await run.metrics.append(line);
}

/** Profiling from the third step (with `profile`), progress, and the timed checkpoint. */
async function afterStep(run: TrainingRun, epoch: number): Promise<void> {
  const { trainer, options } = run;
  if (options.profile && trainer.step === run.startStep + 2 && !gpu().startProfiling()) {
    run.message("--profile: this adapter has no timestamp-query; no kernel times");
  }
  options.onProgress?.({
    step: trainer.step,
    totalSteps: run.totalSteps,
    epoch,
    metrics: run.metrics.last,
  });
  if (
    run.config.checkpointEvery > 0 && run.clock.minutesSinceCheckpoint >= run.config.checkpointEvery
  ) {
    await writeCheckpoint(run);
  }
}

/** At an epoch's end (or the run's): the k-NN every `evalEvery` epochs, then a checkpoint. */
async function endEpoch(run: TrainingRun): Promise<void> {
  const { trainer, config } = run;
  const epochDone = trainer.step % trainer.stepsPerEpoch === 0;
  if (!epochDone && trainer.step < run.totalSteps) return;
  const finished = Math.ceil(trainer.step / trainer.stepsPerEpoch);
  const skipped = run.loader.skipped?.length ?? 0;
  if (skipped > 0) {
    run.message(
      `epoch ${finished}: ${skipped} unreadable image${skipped === 1 ? "" : "s"} skipped so far ` +
        `(latest: ${run.loader.skipped!.at(-1)!.path})`,
    );
  }
  if (
    config.evalEvery > 0 && epochDone && finished % config.evalEvery === 0 &&
    trainer.step < run.totalSteps
  ) {
    const knn = await evaluate(run, `after epoch ${finished}`);
    if (knn) await run.metrics.appendKnn(knn);
  }
  await writeCheckpoint(run);
}

/** The k-NN of the backbone under evaluation, when the run has a test split (a pause). */
export function evaluate(run: TrainingRun, label: string): Promise<KnnAccuracy | undefined> {
  const { train, test, bank = train } = run.options;
  if (!test) return Promise.resolve(undefined);
  return run.clock.pause(async () => {
    const { trainer, config } = run;
    const backbone = trainer.evaluationBackbone;
    const result = await evaluateKnn(
      backbone,
      bank,
      test,
      trainer.globalSize,
      config.evalTrainLimit,
    );
    run.message(
      `k-NN ${label}: top-1 ${result.top1.toFixed(2)}%, top-5 ${result.top5.toFixed(2)}%`,
    );
    return result;
  });
}

/** Where the run's sampler stands: the batch of the trainer's next step. */
export function samplerState(run: TrainingRun): SamplerState {
  const { trainer, loader, config } = run;
  return {
    seed: config.seed,
    epoch: trainer.epoch,
    position: trainer.step - trainer.epoch * trainer.stepsPerEpoch,
    images: loader.images,
    shardIndex: loader.shardIndex ?? 0,
    shardCount: loader.shardCount ?? 1,
  };
}

/** Writes a checkpoint with the latest metrics (a pause), and hands it to `onCheckpoint`. */
export async function writeCheckpoint(run: TrainingRun): Promise<void> {
  await run.clock.pause(async () => {
    run.lastCheckpoint = await saveCheckpoint(
      run.trainer,
      run.config.out,
      { metrics: run.metrics.last },
      run.fileSystem,
      samplerState(run),
    );
    run.message(`checkpoint ${run.lastCheckpoint}`);
    await run.options.onCheckpoint?.(run.lastCheckpoint);
    run.clock.lastCheckpoint = performance.now();
  });
}
