/**
 * `dinogpu bench matmul`: GFLOP/s of the matmul kernels on this adapter.
 * @module
 */
import { Command } from "commander";
import { initGpu } from "../../src/gpu/device.ts";
import { UserError } from "../run.ts";
import {
  MATMUL_VARIANTS,
  type MatmulProblem,
  matmulVariant,
} from "../../src/ops/matmul/variants.ts";
import { wholeOption } from "../shared.ts";
import { addBenchDataCommand } from "./bench_data.ts";
import { chooseMatmulVariant } from "../../src/ops/matmul/choice.ts";
import { timeMatmulVariant, type VariantTiming } from "../../src/ops/matmul/tuning.ts";

/** Options of `benchMatmul`. */
export interface BenchMatmulOptions {
  /** Rows of the output. */
  m: number;
  /** Columns of the output. */
  n: number;
  /** Inner size. */
  k: number;
  /** a stored as [k, m] (a weight gradient's layout). */
  transposeA?: boolean;
  /** b stored as [n, k] (a Linear layer's weight). */
  transposeB?: boolean;
  /** a and b stored as f16 (the variants with an f16 form; f32 sums). */
  f16?: boolean;
  /** Time only this variant; default every variant that supports the shape. */
  variant?: string;
  /** Interleaved rounds over the variants, each keeping its best (for a shared machine); default 2. */
  rounds?: number;
  /** Launches timed behind one sync per variant; default: as many as fit ~1 s. */
  iterations?: number;
}

/** Times matmul variants on an m x n x k product; returns the figures `bench matmul` prints. */
export async function benchMatmul(options: BenchMatmulOptions): Promise<Record<string, unknown>> {
  const gpu = await initGpu();
  const { m, n, k } = options;
  const sizes: Record<string, number> = { m, n, k };
  if (options.iterations !== undefined) sizes.iterations = options.iterations;
  if (options.rounds !== undefined) sizes.rounds = options.rounds;
  for (const [name, value] of Object.entries(sizes)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new UserError(`bench matmul: --${name} must be a whole number >= 1, got ${value}`);
    }
  }
  const problem: MatmulProblem = {
    batch: 1,
    m,
    n,
    k,
    transposeA: options.transposeA ?? false,
    transposeB: options.transposeB ?? false,
    sharedA: true,
    sharedB: true,
    f16: options.f16 ?? false,
  };
  if (options.variant && !matmulVariant(options.variant).supports(problem)) {
    throw new UserError(
      `bench matmul: variant ${options.variant} does not support this product` +
        `${problem.f16 ? " on f16 operands" : ""}`,
    );
  }
  const names = options.variant
    ? [options.variant]
    : MATMUL_VARIANTS.filter((variant) => variant.supports(problem)).map((v) => v.name);
  if (names.length === 0) {
    throw new UserError(
      `bench matmul: no kernel variant supports this product on this adapter` +
        `${problem.f16 ? " on f16 operands" : ""}`,
    );
  }
  // Rounds over the variants, each keeping its fastest: load from elsewhere on a shared machine
  // then slows one round of every variant rather than all rounds of one.
  const fastest = new Map<string, VariantTiming>();
  for (let round = 0; round < (options.rounds ?? 2); round++) {
    for (const name of names) {
      const timing = await timeMatmulVariant(name, m, n, k, {
        transposeA: problem.transposeA,
        transposeB: problem.transposeB,
        f16: problem.f16,
        repetitions: options.iterations,
        budgetMs: round === 0 ? 400 : 1000,
      });
      const previous = fastest.get(name);
      if (!previous || timing.milliseconds < previous.milliseconds) fastest.set(name, timing);
    }
  }
  const timings = [...fastest.values()];
  const best = timings.reduce((x, y) => (y.gflops > x.gflops ? y : x));
  const round = (value: number) => Math.round(value * 100) / 100;
  return {
    adapter: gpu.description,
    m,
    n,
    k,
    transposeA: problem.transposeA,
    transposeB: problem.transposeB,
    f16: problem.f16,
    variant: best.variant,
    gflops: round(best.gflops),
    milliseconds: round(best.milliseconds),
    defaultVariant: chooseMatmulVariant(problem).name,
    ...(options.variant ? {} : {
      variants: Object.fromEntries(
        timings.map((t) => [t.variant, {
          gflops: round(t.gflops),
          milliseconds: round(t.milliseconds),
          repetitions: t.repetitions,
        }]),
      ),
    }),
  };
}

/** The `bench` command with its `matmul` subcommand. */
export function benchCommand() {
  const bench = new Command("bench").description("measure kernel speed on this adapter");
  bench.command("matmul")
    .description("GFLOP/s of an m x n x k matmul, per kernel variant")
    .option("--m <rows>", "rows of the output", wholeOption("--m"), 1024)
    .option("--n <columns>", "columns of the output", wholeOption("--n"), 1024)
    .option("--k <inner>", "inner size", wholeOption("--k"), 1024)
    .option("--transpose-a", "a stored as [k, m] (a weight gradient's layout)")
    .option("--transpose-b", "b stored as [n, k] (a Linear layer's weight)")
    .option("--f16", "a and b stored as f16 (f32 sums): the variants with an f16 form")
    .option("--variant <name>", `one variant (${MATMUL_VARIANTS.map((v) => v.name).join(", ")})`)
    .option("--iterations <count>", "launches timed per variant", wholeOption("--iterations"))
    .option(
      "--rounds <count>",
      "interleaved rounds, each variant keeps its best",
      wholeOption("--rounds"),
      2,
    )
    .option("--json", "print one JSON object (the default output is the same object, indented)")
    .action(async (options) => {
      const result = await benchMatmul({
        m: options.m,
        n: options.n,
        k: options.k,
        transposeA: options.transposeA ?? false,
        transposeB: options.transposeB ?? false,
        f16: options.f16 ?? false,
        variant: options.variant,
        iterations: options.iterations,
        rounds: options.rounds,
      });
      console.log(options.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
    });
  addBenchDataCommand(bench);
  return bench;
}
