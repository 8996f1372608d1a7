/**
 * The matmul autotuner: times the kernel variants (./variants.ts) on an adapter, remembers the
 * fastest per shape class in memory and in `$XDG_CACHE_HOME/dinogpu/matmul_tuning.json` (or
 * `~/.cache/dinogpu/`) when the process may, and otherwise picks a variant by heuristics.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import {
  dispatchMatmul,
  MATMUL_VARIANTS,
  type MatmulBuffers,
  type MatmulEpilogue,
  type MatmulProblem,
  type MatmulVariant,
  matmulVariant,
  scalarVariant,
} from "./variants.ts";

/** Whether the vec4 variants apply: K and N multiples of 4 (and M with transposeA). */
function vec4Aligned(problem: MatmulProblem): boolean {
  return problem.k % 4 === 0 && problem.n % 4 === 0 && (!problem.transposeA || problem.m % 4 === 0);
}

/** Rounds up to a power of two (for shape classes). */
function powerOfTwo(value: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, value)));
}

/** The tuner's shape class of a problem: sizes rounded to powers of two, transposes, alignment. */
export function shapeClass(problem: MatmulProblem): string {
  const aligned = vec4Aligned(problem) ? "v4" : "s";
  return `t${problem.transposeA ? 1 : 0}${problem.transposeB ? 1 : 0}` +
    `:m${powerOfTwo(problem.batch * problem.m)}:n${powerOfTwo(problem.n)}` +
    `:k${powerOfTwo(problem.k)}:${aligned}${problem.f16 ? ":f16" : ""}`;
}

/** One tuned choice. */
export interface TunedChoice {
  /** The fastest variant. */
  variant: string;
  /** Its speed on the tuned shape. */
  gflops: number;
}

type TuningTable = Record<string, Record<string, TunedChoice>>;
let table: TuningTable | undefined;

function cacheFile(): string | undefined {
  try {
    const deno = (globalThis as { Deno?: typeof Deno }).Deno;
    if (!deno) return undefined;
    const base = deno.env.get("XDG_CACHE_HOME") ||
      (deno.env.get("HOME") ? `${deno.env.get("HOME")}/.cache` : undefined);
    return base ? `${base}/dinogpu/matmul_tuning.json` : undefined;
  } catch {
    return undefined;
  }
}

function tuningTable(): TuningTable {
  if (table) return table;
  table = {};
  const file = cacheFile();
  if (file) {
    try {
      const parsed = JSON.parse(Deno.readTextFileSync(file));
      if (parsed && typeof parsed === "object") table = parsed as TuningTable;
    } catch {
      // no cache yet, or no permission: start empty
    }
  }
  return table;
}

function saveTable(): void {
  const file = cacheFile();
  if (!file || !table) return;
  // written beside and renamed: a full disk leaves the old cache, never half a file
  const temporary = `${file}.tmp-${Deno.pid}`;
  try {
    Deno.mkdirSync(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(temporary, JSON.stringify(table, null, 1));
    Deno.renameSync(temporary, file);
  } catch {
    // read-only home, no permission or no space: keep the in-memory table only
    try {
      Deno.removeSync(temporary);
    } catch {
      // never written
    }
  }
}

/**
 * The tuning table's key: the adapter's description and a digest of the variant names, so that
 * choices tuned against another set of variants (an older version) are not reused.
 */
function tuningKey(): string {
  let digest = 0;
  for (const char of MATMUL_VARIANTS.map((variant) => variant.name).join(",")) {
    digest = (Math.imul(digest, 31) + char.charCodeAt(0)) >>> 0;
  }
  return `${gpu().description} #${digest.toString(16)}`;
}

/** Forgets every tuned choice held in memory (the cache file stays). */
export function clearMatmulTuning(): void {
  table = {};
}

/**
 * The variant picked by heuristics, without tuning: the subgroup kernel where the device has
 * subgroups and the product is large enough to fill its 16- or 24-row blocks (the fastest at
 * 1024^3 on lavapipe, about 3x the vec4 kernels; its workgroup fitted to N up to 128), else
 * register-blocked vec4, else workgroup-tiled or scalar.
 */
export function defaultMatmulVariant(problem: MatmulProblem): MatmulVariant {
  const rows = problem.batch * problem.m;
  // A lane covers 8 columns; 64-lane workgroups unless 32 leave fewer lanes idle at the edge, and
  // up to N = 128 a workgroup of several row groups (4352 x 64 x 256 on lavapipe: 15 ms against
  // 40-47 ms with 32 lanes; no gain from N = 192 on).
  const lanes = Math.ceil(problem.n / 8);
  const idle = (width: number) => Math.ceil(lanes / width) * width - lanes;
  const subgroup = matmulVariant(
    problem.m < 48
      ? "subgroup-r16x8-64"
      : problem.n <= 128
      ? "subgroup-r24x8-fit"
      : idle(64) <= idle(32)
      ? "subgroup-r24x8-64"
      : "subgroup-r24x8-32",
  );
  if (problem.m >= 16 && problem.n >= 32 && subgroup.supports(problem)) return subgroup;
  if (vec4Aligned(problem)) return matmulVariant(rows >= 8 ? "vec4-r8-8x8" : "vec4-r4-8x8");
  if (problem.m >= 32 && problem.n >= 32) return matmulVariant("tiled-32x32x16");
  return scalarVariant;
}

let collected: MatmulProblem[] | undefined;

/**
 * Runs `body` and returns, with its result, the products it ran (one per shape class, in the
 * order first met): what `tuneMatmulProblems` tunes for a workload.
 */
export function collectMatmulProblems<T>(body: () => T): { result: T; problems: MatmulProblem[] } {
  const outer = collected;
  collected = [];
  try {
    const result = body();
    const byClass = new Map<string, MatmulProblem>();
    for (const problem of collected) {
      if (!byClass.has(shapeClass(problem))) byClass.set(shapeClass(problem), problem);
    }
    return { result, problems: [...byClass.values()] };
  } finally {
    collected = outer;
  }
}

/** The variant matmul uses for `problem`: the tuned one for its class on this adapter, or the default. */
export function chooseMatmulVariant(problem: MatmulProblem): MatmulVariant {
  collected?.push(problem);
  const tuned = tuningTable()[tuningKey()]?.[shapeClass(problem)];
  if (tuned) {
    const variant = MATMUL_VARIANTS.find((candidate) => candidate.name === tuned.variant);
    if (variant?.supports(problem)) return variant;
  }
  return defaultMatmulVariant(problem);
}

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

async function timeOn(
  variant: MatmulVariant,
  problem: MatmulProblem,
  buffers: MatmulBuffers,
  budgetMs: number,
  repetitions?: number,
  bestMs = Infinity,
  onWarm?: (milliseconds: number) => void,
): Promise<VariantTiming> {
  const device = gpu();
  const flops = 2 * problem.batch * problem.m * problem.n * problem.k;
  const timing = (milliseconds: number, count: number): VariantTiming => ({
    variant: variant.name,
    milliseconds,
    gflops: flops / milliseconds / 1e6,
    repetitions: count,
  });
  const first = performance.now();
  dispatchMatmul(variant, problem, buffers, NO_EPILOGUE); // compile and warm up
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
  for (let i = 0; i < repetitions; i++) dispatchMatmul(variant, problem, buffers, NO_EPILOGUE);
  await device.sync();
  return timing((performance.now() - start) / repetitions, repetitions);
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
    // The default first, then the others; once the budget is spent the rest are not tried.
    for (const variant of candidates) {
      if (timings.length > 0 && performance.now() > deadline) break;
      const best = Math.min(...timings.map((t) => t.milliseconds));
      timings.push(
        await timeOn(variant, problem, buffers, perVariant, undefined, best, (warm) => {
          deadline += warm;
        }),
      );
    }
  } finally {
    buffers.destroy();
  }
  timings.sort((x, y) => x.milliseconds - y.milliseconds);
  const key = shapeClass(problem);
  const best = timings[0];
  if (best && options.remember !== false) {
    const entries = tuningTable()[tuningKey()] ??= {};
    entries[key] = { variant: best.variant, gflops: Math.round(best.gflops * 100) / 100 };
    saveTable();
  }
  return { shapeClass: key, variant: best?.variant ?? "", timings };
}

/**
 * Tunes the shape class of each of `problems` (from `collectMatmulProblems`) with `tuneMatmul`,
 * `budgetMs` each, one after the other; `onTuned` hears of each result as it comes.
 */
export async function tuneMatmulProblems(
  problems: readonly MatmulProblem[],
  options: { budgetMs?: number; onTuned?: (result: TuneResult, index: number) => void } = {},
): Promise<TuneResult[]> {
  const results: TuneResult[] = [];
  for (const problem of problems) {
    const result = await tuneMatmul(problem.m, problem.n, problem.k, {
      transposeA: problem.transposeA,
      transposeB: problem.transposeB,
      batch: problem.batch,
      f16: problem.f16,
      budgetMs: options.budgetMs,
    });
    results.push(result);
    options.onTuned?.(result, results.length - 1);
  }
  return results;
}
