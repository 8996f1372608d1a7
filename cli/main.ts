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
import { attnCommand } from "./commands/attn.ts";
import { augmentCommand } from "./commands/augment.ts";
import { curateCommand } from "./commands/curate.ts";
import { benchCommand } from "./commands/bench.ts";
import { benchModelCommand } from "./commands/bench_model.ts";
import { distillCommand } from "./commands/distill.ts";
import { embedCommand } from "./commands/embed.ts";
import { infoCommand } from "./commands/info.ts";
import { knnCommand } from "./commands/knn.ts";
import { pcaCommand } from "./commands/pca.ts";
import { plotCommand } from "./commands/plot.ts";
import { probeCommand } from "./commands/probe.ts";
import { demoCommand } from "./commands/demo.ts";
import { trainCommand } from "./commands/train.ts";
import { shardsCommand } from "./commands/shards.ts";
import { runCli } from "./run.ts";

/** Builds the `dinogpu` program with all its commands. */
export function buildProgram(): Command {
  const program = new Command()
    .name("dinogpu")
    .description("Self-supervised vision (DINO / DINOv2) on WebGPU")
    .version("0.1.0");
  program.addCommand(infoCommand());
  program.addCommand(benchCommand().addCommand(benchModelCommand()));
  program.addCommand(trainCommand());
  program.addCommand(demoCommand());
  program.addCommand(distillCommand());
  program.addCommand(knnCommand());
  program.addCommand(probeCommand());
  program.addCommand(embedCommand());
  program.addCommand(attnCommand());
  program.addCommand(pcaCommand());
  program.addCommand(augmentCommand());
  program.addCommand(shardsCommand());
  program.addCommand(plotCommand());
  program.addCommand(curateCommand());
  return program;
}

if (import.meta.main) {
  await runCli(buildProgram(), Deno.args);
}
