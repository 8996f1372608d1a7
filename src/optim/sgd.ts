/**
 * SGD with momentum on the GPU with PyTorch's semantics (`torch.optim.SGD`): for each parameter
 * with a gradient `g`,
 *
 * ```text
 * g = g + weightDecay * p
 * buffer = g                                   (first step)
 * buffer = momentum * buffer + (1 - dampening) * g   (later steps)
 * p = p - lr * (nesterov ? g + momentum * buffer : buffer)
 * ```
 *
 * One fused kernel per parameter (`kernels/optim/sgd.wgsl`); the per-step scalars go up in one upload.
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { flatWorkgroups } from "../gpu/launch.ts";
import { updatedParameters } from "./parameters.ts";
import { keep, type Tensor, zeros } from "../tensor/tensor.ts";

/** Hyperparameters of SGD (defaults as PyTorch's, except `lr`, which is required). */
export interface SgdOptions {
  /** Learning rate. */
  lr: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Dampening of the momentum (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
}

const SLOT_WORDS = 8;

/** SGD with momentum; momentum buffers on the GPU. */
export class Sgd {
  /** Learning rate used by the next `step` (set it from a schedule). */
  lr: number;
  /** Momentum factor. */
  readonly momentum: number;
  /** Dampening. */
  readonly dampening: number;
  /** Weight decay. */
  readonly weightDecay: number;
  /** Whether the update is Nesterov's. */
  readonly nesterov: boolean;
  readonly #params: Tensor[];
  readonly #buffers: Tensor[];
  readonly #steps: number[];
  readonly #scalars: Tensor;
  readonly #scalarHost: Float32Array;
  #disposed = false;

  /** Builds the optimizer over `params` with zeroed momentum buffers. */
  constructor(params: readonly Tensor[], options: SgdOptions) {
    const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = options;
    for (
      const [name, value] of [["lr", lr], ["momentum", momentum], [
        "weightDecay",
        weightDecay,
      ]] as const
    ) {
      if (!Number.isFinite(value) || value < 0) {
        throw new RangeError(`Sgd: ${name} must be a finite number >= 0, got ${value}`);
      }
    }
    if (!Number.isFinite(dampening) || dampening < 0 || dampening > 1) {
      throw new RangeError(`Sgd: dampening must be in [0, 1], got ${dampening}`);
    }
    if (nesterov && (momentum <= 0 || dampening !== 0)) {
      throw new RangeError(
        `Sgd: Nesterov momentum needs momentum > 0 and dampening 0 (momentum ${momentum}, ` +
          `dampening ${dampening})`,
      );
    }
    params.forEach((param, index) => {
      if (param.dtype !== "f32") {
        throw new ShapeError(`Sgd: parameter ${index} is not f32 (${param.describe()})`);
      }
    });
    this.lr = lr;
    this.momentum = momentum;
    this.dampening = dampening;
    this.weightDecay = weightDecay;
    this.nesterov = nesterov;
    this.#params = [...params];
    this.#buffers = params.map((param) => keep(zeros(param.shape)));
    this.#steps = params.map(() => 0);
    this.#scalarHost = new Float32Array(Math.max(1, params.length) * SLOT_WORDS);
    this.#scalars = keep(zeros([this.#scalarHost.length]));
  }

  /** Updates every parameter that requires grad and has a gradient (no readback). */
  step(): void {
    if (this.#disposed) throw new ShapeError("Sgd.step: the optimizer was disposed");
    if (!Number.isFinite(this.lr) || this.lr < 0) {
      throw new RangeError(`Sgd.step: lr must be a finite number >= 0, got ${this.lr}`);
    }
    const active = updatedParameters(this.#params, "Sgd");
    for (const index of active) {
      const first = this.#steps[index]++ === 0;
      const host = this.#scalarHost;
      const at = index * SLOT_WORDS;
      host[at] = this.lr;
      host[at + 1] = first ? 0 : this.momentum;
      host[at + 2] = first ? 1 : 1 - this.dampening;
      host[at + 3] = this.weightDecay;
      host[at + 4] = this.nesterov ? 1 : 0;
      host[at + 5] = this.nesterov ? this.momentum : 1;
    }
    if (active.length === 0) return;
    gpu().upload(this.#scalars.buffer, this.#scalarHost);
    for (const index of active) {
      const param = this.#params[index];
      gpu().dispatch({
        kernel: "optim/sgd",
        buffers: [
          param.buffer,
          param.grad!.buffer,
          this.#scalars.buffer,
          this.#buffers[index].buffer,
        ],
        // (count, slot, scale index: SGD has no gradient scale)
        params: new Uint32Array([param.size, index, 0]),
        workgroups: flatWorkgroups(param.size),
      });
    }
  }

  /** Releases the momentum buffers (the parameters are not touched). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const t of [...this.#buffers, this.#scalars]) t.dispose();
  }
}
