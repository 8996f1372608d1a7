/**
 * DINO training checkpoints: student, teacher, centre and optimizer state as safetensors, with a
 * JSON sidecar holding the configuration, the schedule position and every random generator's
 * state. Written atomically: a checkpoint is assembled in a temporary folder that is renamed into
 * place, then the `latest` pointer is replaced by rename, so a crash or a full disk leaves the
 * previous checkpoint intact and loadable.
 * @module
 */
import { basename, join } from "node:path";
import { gpu } from "../gpu/device.ts";
import { CheckpointError, readSafetensorsFile, writeSafetensors } from "../io/safetensors.ts";
import { type HostTensor, hostTensorOf, toFloat32 } from "../tensor/host.ts";
import { BACKBONE_PREFIX_KEY, modelFileMetadata } from "../io/pretrained/model_file.ts";
import { MlpMixer } from "../nn/mixer.ts";
import { VisionTransformer } from "../nn/vit.ts";
import { readAll, type Tensor, tensor } from "../tensor/tensor.ts";
import type { DinoTrainConfig } from "./config.ts";
import type { DinoTrainer } from "./dino_trainer.ts";
import { phaseAt } from "./curriculum.ts";
import { copyWeights } from "./models.ts";
import {
  checkOutputFolder,
  DENO_FILE_SYSTEM,
  LATEST,
  latestCheckpointIn,
  removeStaleTemporaries,
  type RunFileSystem,
  writeFailure,
} from "./run_folder.ts";

/** The JSON sidecar of a checkpoint. */
export interface CheckpointInfo {
  /** Format marker. */
  format: "dinogpu-dino-checkpoint";
  /** Format version. */
  version: 1;
  /** Training configuration. */
  config: DinoTrainConfig;
  /** Steps taken. */
  step: number;
  /** Epoch of the next step. */
  epoch: number;
  /** Steps per epoch of the run. */
  stepsPerEpoch: number;
  /** State of the augmentation generator. */
  augmenterRandom: number[];
  /** State of the stochastic-depth generator (ViT students). */
  dropPathRandom: number | undefined;
  /** State of the student's RoPE coordinate augmentation generator (absent in older files). */
  ropeRandom?: number;
  /** Resolution phase of the networks (curriculum; 0 without one). */
  phase?: number;
  /** State of the iBOT mask generator. */
  maskRandom?: number;
  /**
   * Grid sides the teacher Mixer's token mixing was grown through (first = the original; see
   * `blockTokenOrder` in src/nn/mixer.ts); absent for a ViT teacher and older checkpoints.
   * The tensor file's metadata holds them too (`token_grids`).
   */
  tokenGrids?: number[];
  /**
   * Where the data sampler stands (the next batch: epoch and position in it, seed, images per
   * epoch and shard), so that a resumed run continues with the very next batch; absent in
   * checkpoints written before it was recorded.
   */
  sampler?: SamplerState;
  /** Wall-clock time of writing. */
  writtenAt: string;
  /** Extra fields (last metrics). */
  extra?: Record<string, unknown>;
}

/** The data sampler's position, saved in each checkpoint. */
export interface SamplerState {
  /** Seed of the order and the crops. */
  seed: number;
  /** Epoch of the next batch. */
  epoch: number;
  /** Position of the next batch in its epoch. */
  position: number;
  /** Images the sampler draws from (all shards). */
  images: number;
  /** This process's part of every epoch. */
  shardIndex: number;
  /** Number of parts. */
  shardCount: number;
}

/** Name of the tensor file inside a checkpoint folder. */
export const CHECKPOINT_TENSORS = "checkpoint.safetensors";
/** Name of the sidecar inside a checkpoint folder. */
export const CHECKPOINT_INFO = "checkpoint.json";
export { LATEST } from "./run_folder.ts";

function backboneMetadata(trainer: DinoTrainer): Record<string, string> {
  // what evaluation reads: the EMA teacher, or in a distillation (whose teacher is the frozen
  // large model it learned from) the student's EMA, or the student without one
  return {
    format: "dinogpu-dino-checkpoint",
    ...modelFileMetadata(trainer.evaluationBackbone),
    [BACKBONE_PREFIX_KEY]: `${trainer.evaluationNetwork.name}.backbone.`,
  };
}

/**
 * Writes a checkpoint of `trainer` under `dir` (created if missing) through `fileSystem`, with
 * `extra` fields and the data sampler's state; returns its folder. A failed write removes what it
 * wrote and throws an `OutputWriteError` naming the last good checkpoint.
 */
export async function saveCheckpoint(
  trainer: DinoTrainer,
  dir: string,
  extra?: Record<string, unknown>,
  fileSystem: RunFileSystem = DENO_FILE_SYSTEM,
  sampler?: SamplerState,
): Promise<string> {
  const named: [string, Tensor][] = [
    ...trainer.student.namedParameters().map(([name, value]) => [`student.${name}`, value]),
    ...trainer.teacher.namedParameters().map(([name, value]) => [`teacher.${name}`, value]),
    ...(trainer.studentEma?.namedParameters() ?? []).map(([name, value]) => [
      `student_ema.${name}`,
      value,
    ]),
    ["loss.center", trainer.loss.center],
  ] as [string, Tensor][];
  if (trainer.ibotLoss) named.push(["ibot_loss.center", trainer.ibotLoss.center]);
  for (const [name, value] of trainer.gramTeacher?.namedParameters() ?? []) {
    named.push([`gram_teacher.${name}`, value]);
  }
  const optimizerState = trainer.optimizer.state();
  optimizerState.expAvg.forEach((value, i) => named.push([`optimizer.exp_avg.${i}`, value]));
  optimizerState.expAvgSq.forEach((value, i) => named.push([`optimizer.exp_avg_sq.${i}`, value]));
  named.push(["optimizer.steps", optimizerState.steps]);
  const values = await readAll(named.map(([, value]) => value));
  for (
    const value of [...optimizerState.expAvg, ...optimizerState.expAvgSq, optimizerState.steps]
  ) {
    value.dispose();
  }
  const tensors = new Map<string, HostTensor>();
  named.forEach(([name, value], index) => {
    tensors.set(name, hostTensorOf(value.dtype, value.shape, values[index]));
  });
  const info: CheckpointInfo = {
    format: "dinogpu-dino-checkpoint",
    version: 1,
    config: trainer.config,
    step: trainer.step,
    epoch: trainer.epoch,
    stepsPerEpoch: trainer.stepsPerEpoch,
    augmenterRandom: trainer.augmenter.random.state,
    ropeRandom: trainer.student.backbone instanceof VisionTransformer
      ? trainer.student.backbone.ropeRandom.state
      : undefined,
    dropPathRandom: trainer.student.backbone instanceof VisionTransformer
      ? trainer.student.backbone.dropRandom.state
      : undefined,
    phase: trainer.phase,
    maskRandom: trainer.maskRandom.state,
    tokenGrids: trainer.teacher.backbone instanceof MlpMixer
      ? [...trainer.teacher.backbone.tokenGrids]
      : undefined,
    sampler,
    writtenAt: new Date().toISOString(),
    extra,
  };
  const name = `step-${String(trainer.step).padStart(8, "0")}`;
  const folder = join(dir, name);
  const temporary = join(dir, `.${name}.tmp-${Deno.pid}`);
  const pointer = join(dir, `.${LATEST}.tmp-${Deno.pid}`);
  let writing = dir;
  try {
    await fileSystem.mkdir(dir);
    await Deno.remove(temporary, { recursive: true }).catch(() => {});
    writing = temporary;
    await fileSystem.mkdir(temporary);
    writing = join(temporary, CHECKPOINT_TENSORS);
    await fileSystem.writeFile(writing, writeSafetensors(tensors, backboneMetadata(trainer)));
    writing = join(temporary, CHECKPOINT_INFO);
    await fileSystem.writeFile(writing, new TextEncoder().encode(JSON.stringify(info, null, 2)));
    writing = folder;
    await Deno.remove(folder, { recursive: true }).catch(() => {});
    await fileSystem.rename(temporary, folder);
    writing = join(dir, LATEST);
    await fileSystem.writeFile(pointer, new TextEncoder().encode(`${name}\n`));
    await fileSystem.rename(pointer, join(dir, LATEST));
  } catch (error) {
    // nothing half-written stays: the temporary folder, and a complete folder `latest` misses
    await Deno.remove(temporary, { recursive: true }).catch(() => {});
    await Deno.remove(pointer).catch(() => {});
    if (writing === join(dir, LATEST) && (await latestCheckpointIn(dir)) !== folder) {
      await Deno.remove(folder, { recursive: true }).catch(() => {});
    }
    const what = writing === dir || writing === join(dir, LATEST)
      ? writing
      : `checkpoint ${folder}` + (writing === folder ? "" : ` (${basename(writing)})`);
    throw await writeFailure(dir, what, error);
  }
  // keep the newest two complete checkpoints
  for (const stale of (await listCheckpoints(dir)).slice(0, -2)) {
    await Deno.remove(stale, { recursive: true });
  }
  return folder;
}

/**
 * Bytes a checkpoint of `trainer` takes: the tensors (student, teacher, centre, optimizer
 * moments) and an allowance for the names and the JSON sidecar.
 */
export function checkpointBytes(trainer: DinoTrainer): number {
  const tensors = [
    ...trainer.student.parameters(),
    ...trainer.teacher.parameters(),
    ...(trainer.studentEma?.parameters() ?? []),
    trainer.loss.center,
    ...trainer.optimizer.parameters,
    ...trainer.optimizer.parameters,
  ];
  const elements = tensors.reduce((sum, value) => sum + value.size, 0);
  return 4 * elements + 128 * tensors.length + 64 * 1024;
}

/**
 * Prepares `dir` for the checkpoints of `trainer` before the first step: removes the temporary
 * folders a killed run left there, checks the folder is writable and has room for a checkpoint
 * (an `OutputWriteError` when not); returns the messages for a person (what was removed, a
 * warning when room is short).
 */
export async function prepareCheckpointFolder(
  trainer: DinoTrainer,
  dir: string,
  fileSystem: RunFileSystem = DENO_FILE_SYSTEM,
): Promise<string[]> {
  const messages: string[] = [];
  const removed = await removeStaleTemporaries(dir);
  if (removed.length > 0) {
    messages.push(
      `removed ${removed.length} temporary file(s) an interrupted run left in ${dir}: ` +
        removed.join(", "),
    );
  }
  const existing = await listCheckpoints(dir).catch(() => []);
  const keep = Math.max(1, 3 - existing.length);
  const warning = await checkOutputFolder(dir, checkpointBytes(trainer), { fileSystem, keep });
  if (warning) messages.push(`warning: ${warning}`);
  return messages;
}

async function listCheckpoints(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory && /^step-\d+$/.test(entry.name)) names.push(entry.name);
  }
  return names.sort().map((name) => join(dir, name));
}

/** The folder of the newest complete checkpoint under `dir` (from its `latest` pointer). */
export async function latestCheckpoint(dir: string): Promise<string> {
  let name: string;
  try {
    name = (await Deno.readTextFile(join(dir, LATEST))).trim();
  } catch {
    // a checkpoint folder given directly
    try {
      await Deno.stat(join(dir, CHECKPOINT_INFO));
      return dir;
    } catch {
      throw new CheckpointError(
        `no checkpoint in ${dir} (no "${LATEST}" file and no ${CHECKPOINT_INFO})`,
      );
    }
  }
  return join(dir, name);
}

/** Reads the sidecar of the newest checkpoint under `dir` (or of a checkpoint folder). */
export async function readCheckpointInfo(dir: string): Promise<CheckpointInfo> {
  const folder = await latestCheckpoint(dir);
  const path = join(folder, CHECKPOINT_INFO);
  let info: CheckpointInfo;
  try {
    info = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new CheckpointError(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (info.format !== "dinogpu-dino-checkpoint") {
    throw new CheckpointError(`${path} is not a dinogpu DINO checkpoint`);
  }
  return info;
}

/** Restores `trainer` (built with the checkpoint's configuration) from the newest checkpoint. */
export async function loadCheckpoint(trainer: DinoTrainer, dir: string): Promise<CheckpointInfo> {
  const info = await readCheckpointInfo(dir);
  const folder = await latestCheckpoint(dir);
  const file = await readSafetensorsFile(join(folder, CHECKPOINT_TENSORS));
  // enter the checkpoint's resolution phase first (a Mixer's token mixing grows there, a ViT's
  // position embedding is resized for the high-resolution phase); a checkpoint written at the
  // last step of a phase is in that phase, and the loop enters the next one before its step
  trainer.step = info.step;
  const phase = info.phase ?? 0;
  const next = phaseAt(trainer.phases, info.step);
  const last = phaseAt(trainer.phases, Math.max(0, info.step - 1));
  if (phase !== next && phase !== last) {
    throw new CheckpointError(
      `${folder}: written in resolution phase ${phase} at step ${info.step}, but this ` +
        `configuration puts step ${info.step} in phase ${next}`,
    );
  }
  await trainer.syncPhase(phase);
  const teacher = trainer.teacher.backbone;
  if (
    info.tokenGrids && teacher instanceof MlpMixer &&
    info.tokenGrids.join(",") !== teacher.tokenGrids.join(",")
  ) {
    throw new CheckpointError(
      `${folder}: the teacher Mixer was grown through grids [${info.tokenGrids.join(", ")}], ` +
        `but this configuration grows it through [${teacher.tokenGrids.join(", ")}] by step ` +
        `${info.step}`,
    );
  }
  const pick = (prefix: string) =>
    new Map(
      [...file.tensors].filter(([name]) => name.startsWith(prefix)).map((
        [name, value],
      ) => [name.slice(prefix.length), value]),
    );
  trainer.student.loadStateDict(pick("student."));
  trainer.teacher.loadStateDict(pick("teacher."));
  for (const parameter of trainer.teacher.parameters()) parameter.requiresGrad = false;
  if (trainer.studentEma) {
    // a distillation written before the student's EMA was kept starts it from the student
    const ema = pick("student_ema.");
    if (ema.size > 0) trainer.studentEma.loadStateDict(ema);
    else copyWeights(trainer.studentEma, trainer.student);
    for (const parameter of trainer.studentEma.parameters()) parameter.requiresGrad = false;
  }
  const center = file.tensors.get("loss.center");
  if (!center) throw new CheckpointError(`${folder}: no loss.center tensor`);
  gpu().upload(trainer.loss.center.buffer, toFloat32(center));
  // iBOT's centre and the Gram teacher (files written before they were saved lack them: the
  // centre then restarts from zero, and the Gram teacher is taken again from the EMA teacher)
  const ibotCenter = file.tensors.get("ibot_loss.center");
  if (trainer.ibotLoss && ibotCenter) {
    gpu().upload(trainer.ibotLoss.center.buffer, toFloat32(ibotCenter));
  }
  if (trainer.gramTeacher) {
    const gram = pick("gram_teacher.");
    if (gram.size > 0) trainer.gramTeacher.loadStateDict(gram);
    else copyWeights(trainer.gramTeacher, trainer.teacher.backbone);
    for (const parameter of trainer.gramTeacher.parameters()) parameter.requiresGrad = false;
  }
  const count = trainer.optimizer.parameters.length;
  const expAvg: Tensor[] = [];
  const expAvgSq: Tensor[] = [];
  for (let i = 0; i < count; i++) {
    const m = file.tensors.get(`optimizer.exp_avg.${i}`);
    const v = file.tensors.get(`optimizer.exp_avg_sq.${i}`);
    if (!m || !v) throw new CheckpointError(`${folder}: optimizer state ${i} missing`);
    expAvg.push(tensor(toFloat32(m), m.shape));
    expAvgSq.push(tensor(toFloat32(v), v.shape));
  }
  const steps = file.tensors.get("optimizer.steps");
  if (!steps) throw new CheckpointError(`${folder}: optimizer.steps missing`);
  const stepsTensor = tensor(Array.from(steps.data as Uint32Array), steps.shape, "u32");
  await trainer.optimizer.loadState({ steps: stepsTensor, expAvg, expAvgSq });
  for (const value of [...expAvg, ...expAvgSq, stepsTensor]) value.dispose();
  trainer.step = info.step;
  trainer.augmenter.random.state = info.augmenterRandom;
  if (info.maskRandom !== undefined) trainer.maskRandom.state = info.maskRandom;
  if (info.dropPathRandom !== undefined && trainer.student.backbone instanceof VisionTransformer) {
    trainer.student.backbone.dropRandom.state = info.dropPathRandom;
    if (info.ropeRandom !== undefined) {
      trainer.student.backbone.ropeRandom.state = info.ropeRandom;
    }
  }
  return info;
}
