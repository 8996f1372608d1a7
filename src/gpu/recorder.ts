/**
 * The step recorder: runs a step function, records its GPU work once per shape key (after warm-up
 * runs of that key) with `Gpu.beginCapture`, and replays the recording on later calls with the
 * same key instead of running the function again. It knows nothing about what the step computes.
 *
 * The step's inputs are declared: each is a named buffer that the recorder uploads the call's
 * data into before the step runs or replays, so a replay reads the new batch, the new schedule
 * values. The step reads them only from those buffers. What else the step bakes into its recorded
 * work (shapes, uniform parameters such as a per-epoch temperature) belongs in `args`, from which
 * the key is made: calls with other `args` or other input sizes record their own work.
 *
 * Work a library module draws for itself inside the step (augmentation parameters, drop-path
 * masks, optimizer scalars) reaches the recording through `Gpu.uploadStepInput`, which the
 * capture replays; a plain `upload` inside the step makes the recording unreplayable, and the
 * key then runs the step's code at every call (`failure` says why).
 *
 * ```ts ignore
 * const recorder = new StepRecorder({
 *   inputs: { x: (bytes: number) => Tensor.empty([bytes / 4]) },
 *   step: ({ x }, args: { factor: number }) => ({ y: scale(x, args.factor) }),
 * });
 * const { y } = recorder.run({ factor: 2 }, { x: Float32Array.of(1, 2) }); // runs the step
 * ```
 * @module
 */
import type { CapturedCommands } from "./capture.ts";
import { gpu } from "./device.ts";

/** A declared input: a GPU buffer the recorder uploads each call's data into. */
export interface StepInputBuffer {
  /** The buffer the step reads the input from. */
  readonly buffer: GPUBuffer;
  /** Releases it (when the recorder is cleared or disposed). */
  dispose(): void;
}

/** A value a step returns (a tensor): the recorder hands out new handles on a recorded one. */
export interface StepOutput {
  /** Another handle on the same GPU data. */
  share(): unknown;
  /** Releases this handle. */
  dispose(): void;
}

/** What a step returns: named outputs, some possibly absent. */
export type StepOutputs<R> = { [K in keyof R]: StepOutput | undefined };

/** Declared inputs: for each name, how to make a buffer for `bytes` bytes of it. */
export type StepInputFactories<I> = { [K in keyof I]: (bytes: number) => I[K] };

/** The data of one call: for each declared input, what to upload into its buffer. */
export type StepInputData<I> = { [K in keyof I]: ArrayBufferView };

/** How a `StepRecorder` is built. */
export interface StepRecorderOptions<I, A, R> {
  /** The declared inputs; their buffers are kept per name and size, and reused. */
  inputs: StepInputFactories<I>;
  /** The step: records its GPU work, reading the inputs from their buffers. */
  step: (inputs: I, args: A) => R;
  /** Runs of a key that execute the step's code before the one that is recorded (default 1). */
  warmup?: number;
}

interface Recording<R> {
  commands: CapturedCommands;
  outputs: R;
}

/**
 * Runs a step function, recording its GPU work once per key and replaying it afterwards (see the
 * module doc). The outputs of a recorded or replayed call share the recording's buffers: read
 * them before the next call, and dispose them.
 */
export class StepRecorder<
  I extends { [K in keyof I]: StepInputBuffer },
  A,
  R extends StepOutputs<R>,
> {
  /** Whether calls are recorded and replayed (off: every call runs the step's code). */
  enabled = true;
  /** Calls answered by a replay. */
  replayed = 0;
  /** Why the latest recording cannot be replayed, if one could not. */
  failure: string | undefined;
  readonly #options: StepRecorderOptions<I, A, R>;
  readonly #buffers = new Map<string, StepInputBuffer>();
  readonly #recordings = new Map<string, Recording<R>>();
  readonly #runs = new Map<string, number>();
  readonly #unreplayable = new Set<string>();

  /** Creates a recorder of `options.step`. */
  constructor(options: StepRecorderOptions<I, A, R>) {
    this.#options = options;
  }

  /**
   * Uploads `data` into the declared input buffers, then replays the recording of this key
   * (`args` and the input sizes) if there is one, or else runs the step (recording it when the
   * key has had its warm-up runs). Returns the step's outputs.
   */
  run(args: A, data: StepInputData<I>): R {
    const inputs = this.#upload(data);
    const key = `${JSON.stringify(args)}|${this.#sizes(data)}`;
    const runtime = gpu();
    const recording = this.enabled ? this.#recordings.get(key) : undefined;
    if (recording && runtime.canReplay(recording.commands)) {
      runtime.replay(recording.commands);
      this.replayed++;
      return shareOutputs(recording.outputs);
    }
    // a recording whose uniform buffers are gone (Gpu.paramsGeneration) is recorded again
    if (recording) this.#drop(key);
    const runs = this.#runs.get(key) ?? 0;
    const record = this.enabled && runs >= (this.#options.warmup ?? 1) &&
      !this.#unreplayable.has(key);
    if (record) runtime.beginCapture();
    let outputs: R;
    try {
      outputs = this.#options.step(inputs, args);
    } catch (error) {
      if (record) runtime.releaseCaptured(runtime.endCapture());
      throw error;
    }
    this.#runs.set(key, runs + 1);
    if (!record) return outputs;
    const commands = runtime.endCapture();
    if (commands.failure) {
      runtime.releaseCaptured(commands);
      this.#unreplayable.add(key);
      this.failure = commands.failure;
      return outputs;
    }
    // the recording keeps the outputs' buffers; the caller gets new handles on them
    this.#recordings.set(key, { commands, outputs });
    return shareOutputs(outputs);
  }

  /** The input buffers for `data`, with the data uploaded (before any work of this call). */
  #upload(data: StepInputData<I>): I {
    const inputs = {} as I;
    for (const name of Object.keys(this.#options.inputs) as (keyof I & string)[]) {
      const values = data[name];
      if (!values) throw new RangeError(`StepRecorder.run: no data for the input "${name}"`);
      const slot = `${name}:${values.byteLength}`;
      let input = this.#buffers.get(slot);
      if (!input) {
        input = this.#options.inputs[name](values.byteLength);
        this.#buffers.set(slot, input);
      }
      if (values.byteLength > 0) gpu().upload(input.buffer, values);
      inputs[name] = input as I[typeof name];
    }
    return inputs;
  }

  #sizes(data: StepInputData<I>): string {
    return Object.keys(this.#options.inputs)
      .map((name) => data[name as keyof I].byteLength)
      .join(",");
  }

  #drop(key: string): void {
    const recording = this.#recordings.get(key);
    if (!recording) return;
    this.#recordings.delete(key);
    gpu().releaseCaptured(recording.commands);
    for (const value of Object.values<StepOutput | undefined>(recording.outputs)) value?.dispose();
  }

  /** Forgets every recording and warm-up count, and releases the input buffers. */
  clear(): void {
    for (const key of [...this.#recordings.keys()]) this.#drop(key);
    this.#runs.clear();
    this.#unreplayable.clear();
    for (const input of this.#buffers.values()) input.dispose();
    this.#buffers.clear();
  }

  /** Releases everything the recorder holds. */
  dispose(): void {
    this.clear();
  }
}

/** New handles on every output of a recorded step (the recording keeps the originals). */
function shareOutputs<R extends StepOutputs<R>>(outputs: R): R {
  const shared: Record<string, unknown> = {};
  for (const [name, value] of Object.entries<StepOutput | undefined>(outputs)) {
    if (value) shared[name] = value.share();
  }
  return shared as R;
}
