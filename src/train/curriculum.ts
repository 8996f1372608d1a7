/**
 * The resolution curriculum (DINOv2's short final high-resolution phase): phases of crop sizes by
 * fraction of the run's steps. At a switch the step plan is rebuilt (a new multi-crop augmenter
 * for the new sizes, continuing the old one's random stream); a ViT needs nothing else, since its
 * position embedding stays at its original grid and is interpolated on the fly to whatever grid a
 * crop has; an MLP-Mixer's token-mixing MLPs grow block-diagonally.
 *
 * Mixer token order. Going from a G x G grid to rG x rG (S' = k S tokens, k = r^2), the tokens are
 * gathered after the stem into k contiguous blocks of S tokens; block j = dy * r + dx holds the
 * strided sub-grid of positions (r y + dy, r x + dx) for (y, x) over the old G x G grid in the old
 * order. Each block is thus a G x G grid with the old layout (over a quarter-shifted sampling of
 * the image), which is what the trained token-mixing weights expect; k copies of them on the block
 * diagonal (fc1 [Dt, S] -> [k Dt, k S], fc2 [S, Dt] -> [k S, k Dt], biases tiled) compute exactly
 * the old mixing within each block at the switch, and are free to mix across blocks afterwards.
 * Repeated growth nests the orders (`blockTokenOrder`, src/nn/mixer.ts, with the Mixer it orders).
 *
 * The high-resolution phase (`highResSize`, `highResSteps`) is one more phase after the run's
 * epochs; unlike a curriculum phase, entering it interpolates a learned position embedding once
 * to the new grid (`VisionTransformer.resizePositionEmbedding`) and restarts the optimizer.
 * Mean pooling is order-free, so features need no inverse order. `growMixer` grows one Mixer;
 * `growMixerRun` grows a run's student and teacher and the AdamW moments of the token-mixing
 * parameters alike.
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { Mlp } from "../nn/layers.ts";
import { blockTokenOrder, MlpMixer } from "../nn/mixer.ts";
import type { AdamW } from "../optim/adamw.ts";
import { Random } from "../tensor/random.ts";
import { readAll, type Tensor, tensor } from "../tensor/tensor.ts";
import type { DinoTrainConfig } from "./config.ts";
import type { DinoNetwork } from "./models.ts";

/** One phase of the curriculum. */
export interface ResolutionPhase {
  /** First step of the phase. */
  startStep: number;
  /** Side of the global crops. */
  globalSize: number;
  /** Side of the local crops. */
  localSize: number;
  /** Whether this is the high-resolution phase (position embeddings resized on entry). */
  highRes?: boolean;
}

/**
 * The phases of `config` for a run of `totalSteps` steps (epochs x steps per epoch, the
 * high-resolution phase's not included); phase 0 is the configuration's own sizes from step 0,
 * the high-resolution phase (if any) the last, from step `totalSteps`.
 */
export function resolutionPhases(config: DinoTrainConfig, totalSteps: number): ResolutionPhase[] {
  const phases: ResolutionPhase[] = [
    { startStep: 0, globalSize: config.globalSize, localSize: config.localSize },
  ];
  for (const [fraction, globalSize, localSize] of config.resolutionSchedule) {
    phases.push({ startStep: Math.round(fraction * totalSteps), globalSize, localSize });
  }
  if (config.highResSize > 0) {
    phases.push({
      startStep: totalSteps,
      globalSize: config.highResSize,
      localSize: highResLocalSize(config),
      highRes: true,
    });
  }
  return phases;
}

/**
 * Side of the local crops in the high-resolution phase: `highResLocalSize`, or the local size of
 * the phase before it scaled like the global one, rounded to a multiple of the patch size.
 */
export function highResLocalSize(config: DinoTrainConfig): number {
  if (config.highResLocalSize > 0) return config.highResLocalSize;
  const [, global, local] = config.resolutionSchedule.at(-1) ??
    [0, config.globalSize, config.localSize];
  const patch = config.patchSize;
  return Math.max(patch, Math.round((local * config.highResSize) / global / patch) * patch);
}

/** Steps of the whole run: its epochs', then the high-resolution phase's (if any). */
export function runSteps(config: DinoTrainConfig, stepsPerEpoch: number): number {
  const phase = config.highResSize > 0 ? config.highResSteps : 0;
  return config.epochs * stepsPerEpoch + phase;
}

/** Index of the phase that step `step` belongs to. */
export function phaseAt(phases: readonly ResolutionPhase[], step: number): number {
  let index = 0;
  for (let i = 1; i < phases.length; i++) if (step >= phases[i].startStep) index = i;
  return index;
}

/**
 * `k` copies of a row-major `rows` x `cols` matrix on the block diagonal of a `k rows` x `k cols`
 * zero matrix (a bias: rows = length, cols = 1 gives it tiled).
 */
export function blockDiagonal(
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  k: number,
): Float32Array {
  if (values.length !== rows * cols) {
    throw new RangeError(`blockDiagonal: ${values.length} values for a ${rows} x ${cols} matrix`);
  }
  if (cols === 1) {
    const tiled = new Float32Array(k * rows);
    for (let a = 0; a < k; a++) for (let i = 0; i < rows; i++) tiled[a * rows + i] = values[i];
    return tiled;
  }
  const out = new Float32Array(k * rows * k * cols);
  const width = k * cols;
  for (let a = 0; a < k; a++) {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        out[(a * rows + i) * width + a * cols + j] = values[i * cols + j];
      }
    }
  }
  return out;
}

/** Grows one token-mixing tensor by `k` given its name's last part and shape. */
export function growTokenMixing(
  name: string,
  shape: readonly number[],
  values: ArrayLike<number>,
  k: number,
): { shape: number[]; values: Float32Array } {
  if (shape.length === 1) {
    return { shape: [k * shape[0]], values: blockDiagonal(values, shape[0], 1, k) };
  }
  if (shape.length !== 2) throw new RangeError(`growTokenMixing: ${name} has rank ${shape.length}`);
  return {
    shape: [k * shape[0], k * shape[1]],
    values: blockDiagonal(values, shape[0], shape[1], k),
  };
}

/** Whether a parameter name belongs to a Mixer's token-mixing MLP. */
export function isTokenMixing(name: string): boolean {
  return /(^|\.)mlp_tokens\./.test(name);
}

/**
 * Grows every token-mixing MLP of `mixer` block-diagonally to a `grid` x `grid` token grid and
 * sets the nested block token order (see the module doc).
 */
export async function growMixer(mixer: MlpMixer, grid: number): Promise<void> {
  const oldGrid = mixer.tokenGrids.at(-1)!;
  const k = (grid / oldGrid) ** 2;
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`growMixer: grid ${grid} is not a whole multiple of ${oldGrid}`);
  }
  if (k === 1) return;
  for (const block of mixer.blocks) {
    const named = block.mlpTokens.namedParameters();
    const values = await readAll(named.map(([, value]) => value));
    const grown = new Mlp(block.tokens * k, named[0][1].shape[0] * k, new Random(0));
    const targets = grown.namedParameters();
    named.forEach(([name, value], index) => {
      const result = growTokenMixing(name, value.shape, values[index], k);
      const [targetName, target] = targets[index];
      if (targetName !== name || target.size !== result.values.length) {
        throw new Error(`growMixer: ${name} does not map onto ${targetName}`);
      }
      gpu().upload(target.buffer, result.values);
      target.requiresGrad = value.requiresGrad;
    });
    block.setTokenMixing(grown, block.tokens * k);
  }
  const grids = [...mixer.tokenGrids, grid];
  mixer.setTokenOrder(grids, blockTokenOrder(grids));
  mixer.config.imageSize = grid * mixer.config.patchSize;
  mixer.config.tokenHidden *= k;
}

/** The parts of a Mixer run that grow at a resolution switch. */
export interface MixerRun {
  /** The student (a Mixer backbone). */
  student: DinoNetwork;
  /** The teacher, grown too unless it is frozen (distillation). */
  teacher: DinoNetwork;
  /** Whether the teacher is frozen. */
  frozenTeacher: boolean;
  /** Distillation's EMA of the student, grown like the student. */
  studentEma?: DinoNetwork;
  /** AdamW over the student. */
  optimizer: AdamW;
}

/**
 * Grows the Mixer run's token mixing to a `grid` x `grid` token grid: the student's, its EMA's
 * (distillation) and (unless frozen) the teacher's MLPs (`growMixer`), and the AdamW moments of the token-mixing parameters
 * alike (block-diagonal copies). Disposes `run.optimizer` and returns its successor, built over
 * the grown student by `rebuild` and loaded with the grown state.
 */
export async function growMixerRun(
  run: MixerRun,
  grid: number,
  rebuild: () => AdamW,
): Promise<AdamW> {
  // names in the optimizer's order (its groups: regularised first, then biases and norms)
  const nameOf = new Map(run.student.namedParameters().map(([name, value]) => [value, name]));
  const names = run.optimizer.parameters.map((value) => nameOf.get(value) ?? "");
  const old = run.optimizer.state();
  const oldGrid = (run.student.backbone as MlpMixer).tokenGrids.at(-1)!;
  const k = (grid / oldGrid) ** 2;
  const grownState = new Map<number, [Tensor, Tensor]>();
  for (let i = 0; i < names.length; i++) {
    if (!isTokenMixing(names[i])) continue;
    const [m, v] = await readAll([old.expAvg[i], old.expAvgSq[i]]);
    const grow = (values: ArrayLike<number>) => {
      const grown = growTokenMixing(names[i], old.expAvg[i].shape, values, k);
      return tensor(grown.values, grown.shape);
    };
    grownState.set(i, [grow(m), grow(v)]);
  }
  await growMixer(run.student.backbone as MlpMixer, grid);
  if (!run.frozenTeacher && run.teacher.backbone instanceof MlpMixer) {
    await growMixer(run.teacher.backbone, grid);
    for (const parameter of run.teacher.parameters()) parameter.requiresGrad = false;
  }
  if (run.studentEma?.backbone instanceof MlpMixer) {
    await growMixer(run.studentEma.backbone, grid);
    for (const parameter of run.studentEma.parameters()) parameter.requiresGrad = false;
  }
  run.optimizer.dispose();
  const optimizer = rebuild();
  const expAvg = old.expAvg.map((value, i) => grownState.get(i)?.[0] ?? value);
  const expAvgSq = old.expAvgSq.map((value, i) => grownState.get(i)?.[1] ?? value);
  await optimizer.loadState({ steps: old.steps, expAvg, expAvgSq });
  for (
    const value of new Set([...old.expAvg, ...old.expAvgSq, ...expAvg, ...expAvgSq, old.steps])
  ) {
    value.dispose();
  }
  return optimizer;
}
