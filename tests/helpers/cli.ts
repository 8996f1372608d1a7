/**
 * Running the command-line tool in tests: in this process through its commander commands with
 * the console collected (`runCommands`, `capturingConsole`), or as `deno run -A cli/main.ts` in a
 * child process (`runMain`); the flags of a tiny training run.
 * @module
 */
import { Command, type CommandUnknownOpts } from "commander";

/** What was printed: console.log and console.error calls, each joined with spaces. */
export interface Printed {
  /** console.log lines. */
  log: string[];
  /** console.error lines. */
  error: string[];
}

/** Runs `body` with console.log and console.error collected, not printed (restored afterwards). */
export async function capturingConsole(body: () => Promise<unknown>): Promise<Printed> {
  const printed: Printed = { log: [], error: [] };
  const [log, error] = [console.log, console.error];
  console.log = (...parts: unknown[]) => printed.log.push(parts.join(" "));
  console.error = (...parts: unknown[]) => printed.error.push(parts.join(" "));
  try {
    await body();
  } finally {
    [console.log, console.error] = [log, error];
  }
  return printed;
}

/**
 * Parses `args` (the command's name first) with a program of `commands` that throws instead of
 * exiting; resolves to the console.log lines joined with newlines (console.error is dropped).
 */
export async function runCommands(
  commands: CommandUnknownOpts[],
  args: string[],
): Promise<string> {
  const program = new Command().exitOverride();
  for (const command of commands) program.addCommand(command);
  const printed = await capturingConsole(() => program.parseAsync(args, { from: "user" }));
  return printed.log.join("\n");
}

/** `runCommands` of `command` alone, its name put before the `args` given. */
export function commandRunner(command: CommandUnknownOpts): (args: string[]) => Promise<string> {
  return (args) => runCommands([command], [command.name(), ...args]);
}

/** The tool's entry point. */
export const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;

/** What a child process of the tool ended with. */
export interface MainResult {
  /** Its exit status. */
  code: number;
  /** What it wrote on stdout. */
  stdout: string;
  /** What it wrote on stderr. */
  stderr: string;
}

/** Runs `deno run -A cli/main.ts ARGS` in a child process (with `env` added to its environment). */
export async function runMain(args: string[], env?: Record<string, string>): Promise<MainResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
}

/** The flags of a tiny network: width 16, depth 1, 2 heads. */
export function tinyNetworkFlags(): string[] {
  return ["--embed-dim", "16", "--depth", "1", "--heads", "2"];
}

/**
 * `dinogpu train` flags of a tiny run of the small preset: 16 px images, patch 8, a 16-wide
 * network of depth 1 and 2 heads, a 32-wide head, batches of 4, 2 local crops, 2 epochs and a
 * metrics line every step.
 */
export const TINY_TRAIN_FLAGS = [
  "--preset",
  "small",
  "--image-size",
  "16",
  "--patch-size",
  "8",
  ...tinyNetworkFlags(),
  "--out-dim",
  "32",
  "--batch-size",
  "4",
  "--local-crops",
  "2",
  "--epochs",
  "2",
  "--log-every",
  "1",
];
