/**
 * Runs a commander program so that a user error prints one line and exits with status 1, while
 * a bug still prints its stack (set DINOGPU_DEBUG=1 to see stacks for every error).
 * @module
 */
import type { Command } from "commander";
import { CurateError } from "../src/curate/embeddings.ts";
import { DataSpecError } from "../src/data/spec.ts";
import { GpuUnavailableError, KernelCompileError, ShapeError } from "../src/gpu/errors.ts";
import { ImageDecodeError } from "../src/io/image.ts";
import { CheckpointError } from "../src/io/safetensors.ts";
import { ConfigError } from "../src/train/validate.ts";
import { OutputWriteError, TrainingDivergedError } from "../src/train/run.ts";

/** An error caused by the user's input (bad flag, missing file): printed without a stack. */
export class UserError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

const USER_ERRORS = [
  UserError,
  GpuUnavailableError,
  ShapeError,
  KernelCompileError,
  DataSpecError,
  ImageDecodeError,
  CheckpointError,
  ConfigError,
  TrainingDivergedError,
  OutputWriteError,
  CurateError,
];

/** Parses `args` and runs the matching command; exits 1 with a one-line message on user errors. */
export async function runCli(program: Command, args: string[]): Promise<void> {
  program.exitOverride();
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (typeof code === "string" && code.startsWith("commander.")) {
      // commander already printed the message (or the help / version)
      const exitCode = (error as { exitCode?: number }).exitCode ?? 1;
      Deno.exit(exitCode);
    }
    const debug = Deno.env.get("DINOGPU_DEBUG");
    if (!debug && USER_ERRORS.some((kind) => error instanceof kind)) {
      console.error(`dinogpu: ${(error as Error).message}`);
      Deno.exit(1);
    }
    throw error;
  }
}
