/**
 * The Module base class: named parameters (dotted names as in PyTorch state dicts, so official
 * checkpoints map onto them), child modules, train/eval mode and disposal.
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { type HostTensor, toFloat32 } from "../tensor/host.ts";
import { formatShape, readAll, type Shape, type Tensor } from "../tensor/tensor.ts";

/**
 * The precision of a module's matrix products and saved activations: `f32`, or `f16`, where the
 * operands of every Linear layer are cast to f16 (weights stay f32 parameters; the cast is
 * differentiable) and the products sum in f32 into f32 outputs (see `matmul`), attention reads f16
 * q, k, v and writes an f16 output (f32 sums), and LayerNorm keeps its input for the backward as
 * f16. Everything else (the residual stream, reductions, losses, gradients, the optimizer) is f32.
 */
export type ComputePrecision = "f32" | "f16";

/** A layer or model: owns parameters and child modules under PyTorch-style names. */
export class Module {
  readonly #parameters = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();
  #training = true;
  #precision: ComputePrecision = "f32";

  /** Registers `value` as the parameter `name` (requires grad unless `trainable` is false). */
  protected parameter(name: string, value: Tensor, trainable = true): Tensor {
    value.requiresGrad = trainable;
    value.name = name;
    this.#parameters.set(name, value);
    return value;
  }

  /** Registers `module` as the child `name`. */
  protected child<M extends Module>(name: string, module: M): M {
    this.#children.set(name, module);
    return module;
  }

  /** The parameter `name` of this module as currently registered. */
  protected param(name: string): Tensor {
    const value = this.#parameters.get(name);
    if (!value) throw new Error(`${this.constructor.name} has no parameter "${name}"`);
    return value;
  }

  /** The parameter `name`, or undefined when the module has none by that name. */
  protected optionalParam(name: string): Tensor | undefined {
    return this.#parameters.get(name);
  }

  /** Replaces the parameter `name` of this module (shape changes: interpolation, resizing). */
  protected replaceParameter(name: string, value: Tensor): Tensor {
    const old = this.#parameters.get(name);
    if (!old) throw new Error(`replaceParameter: no parameter "${name}"`);
    const replaced = this.parameter(name, value, old.requiresGrad);
    old.grad?.dispose();
    old.dispose();
    return replaced;
  }

  /** Every parameter under its dotted name, this module's first, then its children's. */
  namedParameters(prefix = ""): [string, Tensor][] {
    const result: [string, Tensor][] = [];
    for (const [name, value] of this.#parameters) result.push([prefix + name, value]);
    for (const [name, module] of this.#children) {
      result.push(...module.namedParameters(`${prefix}${name}.`));
    }
    return result;
  }

  /** Every parameter (for optimizers). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, value]) => value);
  }

  /** Whether the module is in training mode (stochastic depth active). */
  get training(): boolean {
    return this.#training;
  }

  /** Sets training mode on this module and all children; returns this. */
  train(training = true): this {
    this.#training = training;
    for (const module of this.#children.values()) module.train(training);
    return this;
  }

  /** Sets evaluation mode; returns this. */
  eval(): this {
    return this.train(false);
  }

  /** The precision of this module's matrix products (see `ComputePrecision`). */
  get precision(): ComputePrecision {
    return this.#precision;
  }

  /** Sets the precision of the matrix products of this module and all children; returns this. */
  setPrecision(precision: ComputePrecision): this {
    if (precision !== "f32" && precision !== "f16") {
      throw new ShapeError(`setPrecision: want "f32" or "f16", got ${JSON.stringify(precision)}`);
    }
    this.#precision = precision;
    for (const module of this.#children.values()) module.setPrecision(precision);
    return this;
  }

  /** Number of scalar parameters. */
  parameterCount(): number {
    return this.parameters().reduce((sum, value) => sum + value.size, 0);
  }

  /**
   * Copies values into the parameters by name. Every parameter must be present with its shape
   * (size-equal shapes are accepted); unknown names are an error unless `strict` is false.
   */
  loadStateDict(state: Map<string, HostTensor>, { strict = true } = {}): void {
    const parameters = new Map(this.namedParameters());
    const missing = [...parameters.keys()].filter((name) => !state.has(name));
    const unexpected = [...state.keys()].filter((name) => !parameters.has(name));
    const mismatched: string[] = [];
    for (const [name, value] of parameters) {
      const source = state.get(name);
      if (source && source.data.length !== value.size) {
        mismatched.push(
          `${name}: checkpoint ${formatShape(source.shape)}, model ${formatShape(value.shape)}`,
        );
      }
    }
    const problems: string[] = [];
    if (missing.length) problems.push(`missing keys: ${missing.join(", ")}`);
    if (strict && unexpected.length) problems.push(`unexpected keys: ${unexpected.join(", ")}`);
    if (mismatched.length) problems.push(`shape mismatches: ${mismatched.join("; ")}`);
    if (problems.length) throw new ShapeError(`Cannot load state dict: ${problems.join(" | ")}`);
    // Values are written into the existing tensors, so optimizers holding them stay valid.
    for (const [name, value] of parameters) {
      gpu().upload(value.buffer, toFloat32(state.get(name)!));
    }
  }

  /** Host copies of every parameter by name (one readback for all). */
  async stateDict(): Promise<Map<string, HostTensor>> {
    const named = this.namedParameters();
    const values = await readAll(named.map(([, value]) => value));
    return new Map(
      named.map(([name, value], index) => [
        name,
        { dtype: "F32", shape: [...value.shape], data: values[index] as Float32Array },
      ]),
    );
  }

  /** Releases every parameter (and gradient) of this module and its children. */
  dispose(): void {
    for (const value of this.parameters()) {
      value.grad?.dispose();
      value.dispose();
    }
  }
}

/** Throws unless `value` has exactly `shape`. */
export function expectShape(value: Tensor, shape: Shape, what: string): void {
  if (value.shape.length !== shape.length || value.shape.some((extent, i) => extent !== shape[i])) {
    throw new ShapeError(
      `${what}: expected ${formatShape(shape)}, got ${formatShape(value.shape)}`,
    );
  }
}
