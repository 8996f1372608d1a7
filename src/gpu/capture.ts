/**
 * The commands a capture records (`Gpu.beginCapture` / `endCapture` / `replay` in device.ts):
 * dispatches with their pipelines and bind groups resolved, copies, and uploads that fetch their
 * data from a source at each replay.
 * @module
 */

/** A captured dispatch: everything `dispatch` resolved, ready to encode again. */
export interface DispatchCommand {
  /** Discriminant. */
  kind: "dispatch";
  /** `kernel:entry` and the launch label (profiling). */
  name: string;
  /** The pipeline. */
  pipeline: GPUComputePipeline;
  /** Bind groups 0 (storage) and, when the kernel has parameters, 1 (uniform). */
  groups: GPUBindGroup[];
  /** The storage buffers of group 0 (binding i = buffers[i]). */
  buffers: readonly GPUBuffer[];
  /** Workgroup counts. */
  workgroups: [number, number, number];
}

/** A captured buffer-to-buffer copy. */
export interface CopyCommand {
  /** Discriminant. */
  kind: "copy";
  /** Source buffer. */
  source: GPUBuffer;
  /** Byte offset in the source. */
  sourceOffset: number;
  /** Target buffer. */
  target: GPUBuffer;
  /** Byte offset in the target. */
  targetOffset: number;
  /** Bytes copied. */
  bytes: number;
}

/** A captured upload: its data come from `source` at each replay. */
export interface UploadCommand {
  /** Discriminant. */
  kind: "upload";
  /** Target buffer. */
  buffer: GPUBuffer;
  /** Byte offset in the target. */
  offset: number;
  /** Gives the data of this replay. */
  source: () => ArrayBufferView;
}

/** A command of a capture. */
export type CapturedCommand = DispatchCommand | CopyCommand | UploadCommand;

/** What `endCapture` returns: commands to replay with `replay`. */
export interface CapturedCommands {
  /** The commands, in order. */
  commands: CapturedCommand[];
  /** Pool buffers the commands use as temporaries, held until `releaseCaptured`. */
  owned: GPUBuffer[];
  /** Arenas holding the temporaries packed by lifetime (./capture_memory.ts), destroyed with them. */
  arenas: GPUBuffer[];
  /** Why the capture cannot be replayed, if it cannot. */
  failure: string | undefined;
  /** The uniform cache generation the bind groups belong to. */
  generation: number;
}
