/**
 * AdamW on the GPU with PyTorch's semantics (`torch.optim.AdamW`, decoupled weight decay), one
 * fused kernel per parameter and no readback. For each parameter with a gradient `g`, at its
 * step `t` (counted per parameter, as PyTorch does):
 *
 * ```text
 * p = p * (1 - lr * weightDecay)
 * m = beta1 * m + (1 - beta1) * g
 * v = beta2 * v + (1 - beta2) * g^2
 * p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * ```
 *
 * The per-step scalars (decay, betas, eps, step size, bias correction) are computed in float64 on
 * the CPU and written with one upload per step into a small storage buffer; the kernel's uniform
 * parameters (element count, slot) never change, so steady-state steps create no buffers.
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { flatLaunch } from "../gpu/launch.ts";
import { updatedParameters } from "./parameters.ts";
import { skipFlag } from "./step_guard.ts";
import { full, keep, Tensor, tensor, zeros } from "../tensor/tensor.ts";

/** A group of parameters sharing a learning rate and weight decay. */
export interface ParamGroup {
  /** The parameters (f32 tensors). */
  params: Tensor[];
  /** Learning rate of this group; default: the optimizer's. */
  lr?: number;
  /** Weight decay of this group; default: the optimizer's. */
  weightDecay?: number;
  /** What `AdamW.setSchedule` multiplies the scheduled learning rate by (default 1). */
  lrMultiplier?: number;
  /** What `AdamW.setSchedule` multiplies the scheduled weight decay by (default 1). */
  weightDecayMultiplier?: number;
}

/** Hyperparameters of AdamW (defaults as PyTorch's, except `lr`, which is required). */
export interface AdamWOptions {
  /** Learning rate. */
  lr: number;
  /** Coefficients of the running averages of the gradient and its square (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay (default 0.01). */
  weightDecay?: number;
}

/** Options of one `AdamW.step`. */
export interface AdamWStepOptions {
  /**
   * What the gradients are multiplied by before the update (clipping without a pass over the
   * gradients): one f32 value for every gradient, such as the factor from `gradNormClipFactor`,
   * or one per parameter (`parameters`' order), such as the factors from
   * `clipFactorsPerParameter`.
   */
  gradScale?: Tensor;
  /**
   * A step guard's flag (`StepGuard.flag`, u32 [1]): when it is raised on the GPU, the update
   * leaves every parameter and its moments as they are.
   */
  skipIf?: Tensor;
}

/** The optimizer's state as tensors, for checkpoints (one entry per parameter, in order). */
export interface AdamWState {
  /** Steps taken by each parameter, u32 [number of parameters]. */
  steps: Tensor;
  /** Running averages of the gradients (PyTorch's `exp_avg`). */
  expAvg: Tensor[];
  /** Running averages of the squared gradients (PyTorch's `exp_avg_sq`). */
  expAvgSq: Tensor[];
}

/** One parameter group as the optimizer holds it. */
export interface ResolvedParamGroup {
  /** The parameters. */
  readonly params: readonly Tensor[];
  /** Current learning rate. */
  lr: number;
  /** Current weight decay. */
  weightDecay: number;
  /** Multiplier of the scheduled learning rate (`setSchedule`). */
  readonly lrMultiplier: number;
  /** Multiplier of the scheduled weight decay (`setSchedule`). */
  readonly weightDecayMultiplier: number;
}

/** Scalars per parameter slot in the storage buffer the kernel reads. */
const SLOT_WORDS = 8;

function checkNumber(value: number, what: string, valid: (value: number) => boolean, want: string) {
  if (typeof value !== "number" || !Number.isFinite(value) || !valid(value)) {
    throw new RangeError(`AdamW: ${what} must be ${want}, got ${value}`);
  }
}

/** AdamW with parameter groups; state (m, v, steps) on the GPU. */
export class AdamW {
  /** The parameter groups (lr and weight decay settable through `setGroupLr`/`...WeightDecay`). */
  readonly groups: readonly ResolvedParamGroup[];
  /** beta1, beta2. */
  readonly betas: readonly [number, number];
  /** Denominator epsilon. */
  readonly eps: number;
  readonly #params: Tensor[] = [];
  readonly #groupOf: number[] = [];
  readonly #expAvg: Tensor[] = [];
  readonly #expAvgSq: Tensor[] = [];
  readonly #steps: number[] = [];
  readonly #scalars: Tensor;
  readonly #scalarHost: Float32Array;
  readonly #one: Tensor;
  #disposed = false;

  /**
   * Builds the optimizer over parameter groups (or a plain list of parameters, one group) and
   * allocates its zeroed state. Each parameter may appear once.
   */
  constructor(groups: readonly ParamGroup[] | readonly Tensor[], options: AdamWOptions) {
    const { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01 } = options;
    checkNumber(lr, "lr", (x) => x >= 0, "a number >= 0");
    checkNumber(betas[0], "betas[0]", (x) => x >= 0 && x < 1, "in [0, 1)");
    checkNumber(betas[1], "betas[1]", (x) => x >= 0 && x < 1, "in [0, 1)");
    checkNumber(eps, "eps", (x) => x >= 0, "a number >= 0");
    checkNumber(weightDecay, "weightDecay", (x) => x >= 0, "a number >= 0");
    this.betas = [betas[0], betas[1]];
    this.eps = eps;
    const list: readonly ParamGroup[] = groups.length > 0 && groups[0] instanceof Tensor
      ? [{ params: [...groups as readonly Tensor[]] }]
      : groups as readonly ParamGroup[];
    const seen = new Set<Tensor>();
    this.groups = list.map((group, groupIndex) => {
      const resolved: ResolvedParamGroup = {
        params: [...group.params],
        lr: group.lr ?? lr,
        weightDecay: group.weightDecay ?? weightDecay,
        lrMultiplier: group.lrMultiplier ?? 1,
        weightDecayMultiplier: group.weightDecayMultiplier ?? 1,
      };
      for (const key of ["lrMultiplier", "weightDecayMultiplier"] as const) {
        checkNumber(resolved[key], `${key} of group ${groupIndex}`, (x) => x >= 0, "a number >= 0");
      }
      checkNumber(resolved.lr, `lr of group ${groupIndex}`, (x) => x >= 0, "a number >= 0");
      checkNumber(
        resolved.weightDecay,
        `weightDecay of group ${groupIndex}`,
        (x) => x >= 0,
        "a number >= 0",
      );
      resolved.params.forEach((param, index) => {
        if (!(param instanceof Tensor) || param.dtype !== "f32") {
          throw new ShapeError(
            `AdamW: parameter ${index} of group ${groupIndex} is not an f32 tensor ` +
              `(${param instanceof Tensor ? param.describe() : String(param)})`,
          );
        }
        if (seen.has(param)) {
          throw new ShapeError(
            `AdamW: parameter ${index} of group ${groupIndex} (${param.describe()}) appears twice`,
          );
        }
        seen.add(param);
        this.#params.push(param);
        this.#groupOf.push(groupIndex);
        this.#expAvg.push(keep(zeros(param.shape)));
        this.#expAvgSq.push(keep(zeros(param.shape)));
        this.#steps.push(0);
      });
      return resolved;
    });
    const slots = Math.max(1, this.#params.length);
    this.#scalarHost = new Float32Array(slots * SLOT_WORDS);
    this.#scalars = keep(zeros([slots * SLOT_WORDS]));
    this.#one = keep(full([1], 1));
  }

  /** Every parameter, in group order. */
  get parameters(): readonly Tensor[] {
    return this.#params;
  }

  /** Sets the learning rate of group `index` (takes effect at the next `step`). */
  setGroupLr(index: number, lr: number): void {
    this.#group(index, "setGroupLr");
    checkNumber(lr, `lr of group ${index}`, (x) => x >= 0, "a number >= 0");
    (this.groups[index] as ResolvedParamGroup).lr = lr;
  }

  /** Sets the weight decay of group `index` (takes effect at the next `step`). */
  setGroupWeightDecay(index: number, weightDecay: number): void {
    this.#group(index, "setGroupWeightDecay");
    checkNumber(weightDecay, `weightDecay of group ${index}`, (x) => x >= 0, "a number >= 0");
    (this.groups[index] as ResolvedParamGroup).weightDecay = weightDecay;
  }

  /**
   * Sets every group's learning rate to `lr` times its `lrMultiplier` and its weight decay to
   * `weightDecay` times its `weightDecayMultiplier` (DINOv2's `apply_optim_scheduler`).
   */
  setSchedule(lr: number, weightDecay: number): void {
    this.groups.forEach((group, index) => {
      this.setGroupLr(index, lr * group.lrMultiplier);
      this.setGroupWeightDecay(index, weightDecay * group.weightDecayMultiplier);
    });
  }

  #group(index: number, what: string): ResolvedParamGroup {
    const group = this.groups[index];
    if (!Number.isInteger(index) || !group) {
      throw new RangeError(
        `AdamW.${what}: no group ${index} (the optimizer has ${this.groups.length})`,
      );
    }
    return group;
  }

  #checkAlive(what: string): void {
    if (this.#disposed) throw new ShapeError(`AdamW.${what}: the optimizer was disposed`);
  }

  /**
   * Updates every parameter that requires grad and has a gradient: one upload of the step's
   * scalars, then one kernel per parameter. Others are skipped (their step count stays). With
   * `skipIf` raised, no parameter changes (their step counts still advance).
   */
  step(options: AdamWStepOptions = {}): void {
    this.#checkAlive("step");
    const scale = options.gradScale ?? this.#one;
    const perParameter = scale.size !== 1;
    if ((perParameter && scale.size !== this.#params.length) || scale.dtype !== "f32") {
      throw new ShapeError(
        `AdamW.step: gradScale must hold one f32 value or one per parameter ` +
          `(${this.#params.length}), got ${scale.describe()}`,
      );
    }
    const skipIf = skipFlag(options.skipIf, "AdamW.step");
    const active = updatedParameters(this.#params, "AdamW");
    if (active.length === 0) return;
    const runtime = gpu();
    // The scalars (step counts, bias corrections, the groups' current lr and weight decay) are
    // computed when uploaded: a replayed step (Gpu.beginCapture) computes its own.
    runtime.uploadStepInput(this.#scalars.buffer, () => this.#stepScalars(active));
    for (const index of active) {
      const param = this.#params[index];
      const grad = param.grad!.buffer;
      const [expAvg, expAvgSq] = [this.#expAvg[index].buffer, this.#expAvgSq[index].buffer];
      runtime.dispatch({
        kernel: "optim/adamw",
        // vec4s where every per-element buffer holds whole vec4s (pooled buffers do)
        ...flatLaunch(param.size, [param.buffer, grad, expAvg, expAvgSq]),
        buffers: [
          param.buffer,
          grad,
          this.#scalars.buffer,
          expAvg,
          expAvgSq,
          scale.buffer,
          skipIf.buffer,
        ],
        params: new Uint32Array([param.size, index, perParameter ? index : 0]),
      });
    }
  }

  /** Advances the step count of the `active` parameters and packs their scalars. */
  #stepScalars(active: readonly number[]): Float32Array {
    const [beta1, beta2] = this.betas;
    const host = this.#scalarHost;
    for (const index of active) {
      const group = this.groups[this.#groupOf[index]];
      const step = ++this.#steps[index];
      const biasCorrection1 = 1 - beta1 ** step;
      const biasCorrection2 = 1 - beta2 ** step;
      const at = index * SLOT_WORDS;
      host[at] = 1 - group.lr * group.weightDecay;
      host[at + 1] = beta1;
      host[at + 2] = 1 - beta1;
      host[at + 3] = beta2;
      host[at + 4] = 1 - beta2;
      host[at + 5] = this.eps;
      host[at + 6] = group.lr / biasCorrection1;
      host[at + 7] = Math.sqrt(biasCorrection2);
    }
    return host;
  }

  /** Steps taken so far by each parameter (CPU mirror of `state().steps`). */
  get steps(): readonly number[] {
    return this.#steps;
  }

  /**
   * The state as new tensors (copies on the GPU, no readback), for checkpoints. The caller
   * disposes them.
   */
  state(): AdamWState {
    this.#checkAlive("state");
    const copy = (source: Tensor) => {
      const result = Tensor.empty(source.shape, "f32");
      if (source.byteLength > 0) {
        gpu().copy(source.buffer, 0, result.buffer, 0, source.byteLength);
      }
      return result;
    };
    return {
      steps: tensor(this.#steps, [this.#steps.length], "u32"),
      expAvg: this.#expAvg.map(copy),
      expAvgSq: this.#expAvgSq.map(copy),
    };
  }

  /**
   * Loads a state saved by `state()` (the tensors are copied; the caller keeps them). Reads the
   * step counts back once.
   */
  async loadState(state: AdamWState): Promise<void> {
    this.#checkAlive("loadState");
    const count = this.#params.length;
    if (
      state.steps.size !== count || state.expAvg.length !== count ||
      state.expAvgSq.length !== count
    ) {
      throw new ShapeError(
        `AdamW.loadState: state is for ${state.steps.size} parameters (${state.expAvg.length} ` +
          `exp_avg, ${state.expAvgSq.length} exp_avg_sq), the optimizer has ${count}`,
      );
    }
    for (let index = 0; index < count; index++) {
      for (
        const [name, saved] of [["expAvg", state.expAvg], ["expAvgSq", state.expAvgSq]] as const
      ) {
        const tensorState = saved[index];
        if (tensorState.size !== this.#params[index].size || tensorState.dtype !== "f32") {
          throw new ShapeError(
            `AdamW.loadState: ${name}[${index}] is ${tensorState.describe()}, parameter ` +
              `${index} is ${this.#params[index].describe()}`,
          );
        }
      }
    }
    const steps = await state.steps.read();
    for (let index = 0; index < count; index++) {
      this.#steps[index] = Number(steps[index]);
      const bytes = this.#params[index].byteLength;
      if (bytes === 0) continue;
      gpu().copy(state.expAvg[index].buffer, 0, this.#expAvg[index].buffer, 0, bytes);
      gpu().copy(state.expAvgSq[index].buffer, 0, this.#expAvgSq[index].buffer, 0, bytes);
    }
  }

  /** Releases the optimizer's GPU state (the parameters are not touched). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const state of [...this.#expAvg, ...this.#expAvgSq, this.#scalars, this.#one]) {
      state.dispose();
    }
  }

  /** Disposes at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
