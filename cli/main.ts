/**
 * The `dinogpu` command line. Each command lives in cli/commands/<name>.ts; this file wires them
 * into one program and turns user errors into one-line messages instead of stack traces.
 *
 * @example
 * ```sh
 * deno task cli info
 * ```
 * @module
 */
import { Command } from "commander";
import { benchCommand } from "./commands/bench.ts";
import { infoCommand } from "./commands/info.ts";
import { runCli } from "./run.ts";

/** Builds the `dinogpu` program with all its commands. */
export function buildProgram(): Command {
  const program = new Command()
    .name("dinogpu")
    .description("Self-supervised vision (DINO / DINOv2) on WebGPU")
    .version("0.1.0");
  program.addCommand(infoCommand());
  program.addCommand(benchCommand());
  return program;
}

if (import.meta.main) {
  await runCli(buildProgram(), Deno.args);
}
