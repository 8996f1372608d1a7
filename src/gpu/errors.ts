/**
 * Error types raised by the GPU runtime. Each message says what failed, then the values.
 * @module
 */

/** Raised when no WebGPU adapter or device can be obtained. */
export class GpuUnavailableError extends Error {
  /** Creates the error with a message that says what to install. */
  constructor(message: string) {
    super(message);
    this.name = "GpuUnavailableError";
  }
}

/** Raised when a WGSL kernel fails to compile; the message holds the compiler's line:column text. */
export class KernelCompileError extends Error {
  /** Creates the error for kernel `kernel` with the compiler's messages. */
  constructor(readonly kernel: string, compilerMessages: string) {
    super(`Kernel "${kernel}" failed to compile:\n${compilerMessages}`);
    this.name = "KernelCompileError";
  }
}

/** Raised when the device reports a validation, out-of-memory or internal error, or is lost. */
export class GpuRuntimeError extends Error {
  /** Creates the error from the device's reason. */
  constructor(message: string) {
    super(message);
    this.name = "GpuRuntimeError";
  }
}

/** Raised when submitted GPU work does not finish within the watchdog's time limit. */
export class GpuTimeoutError extends Error {
  /** Creates the error naming what was waited for and for how long. */
  constructor(what: string, milliseconds: number) {
    super(`GPU work did not finish: ${what} waited ${milliseconds} ms (watchdog limit)`);
    this.name = "GpuTimeoutError";
  }
}

/**
 * Raised when a tensor is used after `dispose()`: a bug in the calling code, never a user error,
 * so the command line prints its stack.
 */
export class DisposedTensorError extends Error {
  /** Creates the error naming the tensor. */
  constructor(tensor: string) {
    super(`${tensor} used after dispose()`);
    this.name = "DisposedTensorError";
  }
}

/** Raised for invalid arguments to a tensor operation: names the op, then the shapes or values. */
export class ShapeError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ShapeError";
  }
}
