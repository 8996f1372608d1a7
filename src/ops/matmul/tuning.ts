/**
 * The matmul autotuner: times the kernel variants (./variants.ts), and for a transposed f32 a the
 * transposed copy too, on an adapter, and remembers the fastest per shape class (./choice.ts keeps
 * the table and picks from it).
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { noGrad } from "../../tensor/tape.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { transpose } from "../shape/forward.ts";
import {
  chooseMatmulVariant,
  defaultMatmulVariant,
  rememberChoice,
  shapeClass,
  TRANSPOSED_COPY,
  transposedCopyApplies,
  transposedCopyByDefault,
} from "./choice.ts";
import {
  dispatchMatmul,
  MATMUL_VARIANTS,
  type MatmulBuffers,
  type MatmulEpilogue,
  type MatmulProblem,
  type MatmulVariant,
  matmulVariant,
} from "./variants.ts";

/** Options of `tuneMatmul` and `timeMatmulVariant`. */
export interface TuneOptions {
  /** Whether a is stored as [k, m]. */
  transposeA?: boolean;
  /** Whether b is stored as [n, k]. */
  transposeB?: boolean;
  /** Batch entries (b shared); default 1. */
  batch?: number;
  /** Whether a and b are stored as f16 (the variants with an f16 form). */
  f16?: boolean;
  /** Variants to try (names); default every one that supports the problem. */
  variants?: string[];
  /** Time budget for the whole tuning in milliseconds (variants left when it runs out are
   * skipped); default 1200. */
  budgetMs?: number;
  /** Store the result in the tuning table (and file); default true. */
  remember?: boolean;
  /** With `transposeA` on f32: time the transposed copy and plain product too (default true). */
  transposedCopy?: boolean;
}

/** The timing of one variant. */
export interface VariantTiming {
  /** Variant name. */
  variant: string;
  /** Mean time of one launch in milliseconds. */
  milliseconds: number;
  /** Billions of floating-point operations per second (2 m n k batch / time). */
  gflops: number;
  /** Launches timed. */
  repetitions: number;
}

/** The result of tuning one shape class. */
export interface TuneResult {
  /** The shape class tuned. */
  shapeClass: string;
  /** The fastest variant. */
  variant: string;
  /** Every variant tried, fastest first (those skipped for the budget are absent). */
  timings: VariantTiming[];
}

function problemOf(m: number, n: number, k: number, options: TuneOptions): MatmulProblem {
  return {
    batch: options.batch ?? 1,
    m,
    n,
    k,
    transposeA: options.transposeA ?? false,
    transposeB: options.transposeB ?? false,
    sharedA: false,
    sharedB: true,
    f16: options.f16 ?? false,
  };
}

function scratchBuffers(problem: MatmulProblem): MatmulBuffers & { destroy(): void } {
  const device = gpu().device;
  const make = (elements: number) =>
    device.createBuffer({
      size: Math.max(16, Math.ceil(elements / 4) * 16),
      usage: GPUBufferUsage.STORAGE,
      label: "matmul tuning",
    });
  const a = make(problem.batch * problem.m * problem.k);
  const b = make(problem.k * problem.n);
  const out = make(problem.batch * problem.m * problem.n);
  return {
    a,
    b,
    out,
    destroy() {
      a.destroy();
      b.destroy();
      out.destroy();
    },
  };
}

const NO_EPILOGUE: MatmulEpilogue = { bias: false, gelu: false, residual: false, savePre: false };

/**
 * Times `launch` (one run of `problem` by the choice `name`): a first launch (compile, warm-up),
 * then `repetitions` launches behind one sync, or, without them, as many as `budgetMs` allows,
 * none when the first was clearly slower than `bestMs`.
 */
async function timeLaunches(
  name: string,
  problem: MatmulProblem,
  launch: () => void,
  budgetMs: number,
  repetitions?: number,
  bestMs = Infinity,
  onWarm?: (milliseconds: number) => void,
): Promise<VariantTiming> {
  const device = gpu();
  const flops = 2 * problem.batch * problem.m * problem.n * problem.k;
  const timing = (milliseconds: number, count: number): VariantTiming => ({
    variant: name,
    milliseconds,
    gflops: flops / milliseconds / 1e6,
    repetitions: count,
  });
  const first = performance.now();
  launch(); // compile and warm up
  await device.sync();
  const warm = performance.now() - first;
  onWarm?.(warm);
  if (repetitions === undefined) {
    // Clearly slower than the best so far, even counting compilation: no need for more launches.
    if (warm > 2 * bestMs + 20) return timing(warm, 1);
    // A sync costs ~10 ms in Deno: time a batch long enough to hide it, within the budget.
    repetitions = Math.max(1, Math.min(64, Math.floor((budgetMs - warm) / Math.max(warm, 1))));
  }
  const start = performance.now();
  for (let i = 0; i < repetitions; i++) launch();
  await device.sync();
  return timing((performance.now() - start) / repetitions, repetitions);
}

/** Times kernel `variant` on `problem` (see `timeLaunches`). */
function timeOn(
  variant: MatmulVariant,
  problem: MatmulProblem,
  buffers: MatmulBuffers,
  budgetMs: number,
  repetitions?: number,
  bestMs = Infinity,
  onWarm?: (milliseconds: number) => void,
): Promise<VariantTiming> {
  const launch = () => dispatchMatmul(variant, problem, buffers, NO_EPILOGUE);
  return timeLaunches(variant.name, problem, launch, budgetMs, repetitions, bestMs, onWarm);
}

/**
 * Times `problem` (a transposed a) as `matmul`'s copy path (see `timeLaunches`): a transposed
 * copy of a, then the plain product with the variant chosen for it (tuned or default).
 */
async function timeTransposedCopy(
  problem: MatmulProblem,
  buffers: MatmulBuffers,
  budgetMs: number,
  bestMs: number,
  onWarm: (milliseconds: number) => void,
): Promise<VariantTiming> {
  const plain = { ...problem, transposeA: false };
  const variant = chooseMatmulVariant(plain);
  const source = Tensor.empty([problem.batch, problem.k, problem.m]);
  const launch = () => {
    const copy = noGrad(() => transpose(source, -2, -1));
    dispatchMatmul(variant, plain, { ...buffers, a: copy.buffer }, NO_EPILOGUE);
    copy.dispose();
  };
  try {
    return await timeLaunches(
      TRANSPOSED_COPY,
      problem,
      launch,
      budgetMs,
      undefined,
      bestMs,
      onWarm,
    );
  } finally {
    source.dispose();
  }
}

/**
 * Times one variant on an m x n x k product (zero-filled operands) and returns its speed. With
 * `repetitions`, times exactly that many launches behind one sync.
 */
export async function timeMatmulVariant(
  name: string,
  m: number,
  n: number,
  k: number,
  options: TuneOptions & { repetitions?: number } = {},
): Promise<VariantTiming> {
  const problem = problemOf(m, n, k, options);
  const variant = matmulVariant(name);
  if (!variant.supports(problem)) {
    throw new ShapeError(
      `matmul: variant "${name}" does not support ${m}x${n}x${k} ` +
        `(transposeA ${problem.transposeA}, transposeB ${problem.transposeB})`,
    );
  }
  const buffers = scratchBuffers(problem);
  try {
    return await timeOn(variant, problem, buffers, options.budgetMs ?? 300, options.repetitions);
  } finally {
    buffers.destroy();
  }
}

/**
 * Times every variant that supports an m x n x k product with these transposes, remembers the
 * fastest for the shape class on this adapter (memory and cache file), and returns the timings.
 */
export async function tuneMatmul(
  m: number,
  n: number,
  k: number,
  options: TuneOptions = {},
): Promise<TuneResult> {
  const problem = problemOf(m, n, k, options);
  // the heuristic default first: a budget spent after one variant keeps the untuned choice
  const fallback = defaultMatmulVariant(problem);
  const candidates = (options.variants ?? MATMUL_VARIANTS.map((v) => v.name))
    .map(matmulVariant)
    .filter((variant) => variant.supports(problem))
    .sort((x, y) => Number(y.name === fallback.name) - Number(x.name === fallback.name));
  const budgetMs = options.budgetMs ?? 1200;
  const perVariant = budgetMs / Math.max(1, candidates.length);
  // the first launch of each variant (its pipeline compiles) does not count against the budget
  let deadline = performance.now() + budgetMs;
  const buffers = scratchBuffers(problem);
  const timings: VariantTiming[] = [];
  try {
    // The default first (the copy path where matmul would take it untuned), then the others;
    // once the budget is spent the rest are not tried.
    const copyPath = options.transposedCopy !== false && transposedCopyApplies(problem);
    const copyTiming = (bestMs: number) =>
      timeTransposedCopy(problem, buffers, perVariant, bestMs, (warm) => {
        deadline += warm;
      });
    const copyFirst = copyPath && transposedCopyByDefault(problem);
    if (copyFirst) timings.push(await copyTiming(Infinity));
    for (const variant of candidates) {
      if (timings.length > 0 && performance.now() > deadline) break;
      const best = Math.min(...timings.map((t) => t.milliseconds));
      timings.push(
        await timeOn(variant, problem, buffers, perVariant, undefined, best, (warm) => {
          deadline += warm;
        }),
      );
    }
    if (copyPath && !copyFirst && performance.now() <= deadline) {
      timings.push(await copyTiming(Math.min(...timings.map((t) => t.milliseconds))));
    }
  } finally {
    buffers.destroy();
  }
  timings.sort((x, y) => x.milliseconds - y.milliseconds);
  const key = shapeClass(problem);
  const best = timings[0];
  if (best && options.remember !== false) {
    rememberChoice(problem, { variant: best.variant, gflops: Math.round(best.gflops * 100) / 100 });
  }
  return { shapeClass: key, variant: best?.variant ?? "", timings };
}

/**
 * Tunes the shape class of each of `problems` (from `collectMatmulProblems`), and the plain form
 * of each transposed-A one, with `tuneMatmul`, `budgetMs` each, one after the other; `onTuned`
 * hears of each result as it comes, with its index and the number of classes tuned.
 */
export async function tuneMatmulProblems(
  problems: readonly MatmulProblem[],
  options: {
    budgetMs?: number;
    onTuned?: (result: TuneResult, index: number, count: number) => void;
  } = {},
): Promise<TuneResult[]> {
  const results: TuneResult[] = [];
  // A transposed-A class the tuner may send down the copy path runs the plain product of the
  // same shape then, so that plain class is tuned too (the step collected it only where the
  // untuned rule copies); the plain products first: the copy path is timed with their choices.
  const byClass = new Map<string, MatmulProblem>();
  for (const problem of problems) {
    const forms = transposedCopyApplies(problem) ? [{ ...problem, transposeA: false }, problem] : [
      problem,
    ];
    for (const form of forms) {
      if (!byClass.has(shapeClass(form))) byClass.set(shapeClass(form), form);
    }
  }
  const ordered = [...byClass.values()].sort((x, y) => Number(x.transposeA) - Number(y.transposeA));
  for (const problem of ordered) {
    const result = await tuneMatmul(problem.m, problem.n, problem.k, {
      transposeA: problem.transposeA,
      transposeB: problem.transposeB,
      batch: problem.batch,
      f16: problem.f16,
      budgetMs: options.budgetMs,
    });
    results.push(result);
    options.onTuned?.(result, results.length - 1, ordered.length);
  }
  return results;
}
