/**
 * Which kernel a product runs: the choice tuned for its shape class on this adapter (kept in
 * memory and in `$XDG_CACHE_HOME/dinogpu/matmul_tuning.json`, or `~/.cache/dinogpu/`, when the
 * process may), else the heuristic default; and whether a transposed-A product runs as a
 * transposed copy. The tuner that fills the table is ./tuning.ts.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import {
  MATMUL_VARIANTS,
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
 * The tuning table's key: the adapter's description and a digest of the choices' names (the
 * variants and `TRANSPOSED_COPY`), so that choices tuned against another set (an older version)
 * are not reused.
 */
function tuningKey(): string {
  let digest = 0;
  const names = [...MATMUL_VARIANTS.map((variant) => variant.name), TRANSPOSED_COPY];
  for (const char of names.join(",")) {
    digest = (Math.imul(digest, 31) + char.charCodeAt(0)) >>> 0;
  }
  return `${gpu().description} #${digest.toString(16)}`;
}

/** Forgets every tuned choice held in memory (the cache file stays). */
export function clearMatmulTuning(): void {
  table = {};
}

/**
 * The subgroup kernel's rows per lane group for a product on a software adapter: 16 under 48 rows;
 * 32 where K or N is under 256; else the most rows (64, 48, 32) that pad M by at most 1/32 of it,
 * or the form that pads least. Measured on lavapipe (`dinogpu bench matmul --m M --n N --k K
 * [--transpose-b] --rounds 2`, all variants interleaved), GFLOP/s of r64x8-fit / r48x8-fit /
 * r32x8-fit: ViT-S/16 products 3152 x 384 x 1152 49.6 / 49.8 / 44.6, 3152 x 384 x 1536 tB 48.8 /
 * 49.6 / 42.3, 3152 x 1152 x 384 tB 37.5 / 37.2 / 34.7; weight gradient 1536 x 384 x 6304 55.1 /
 * 52.4 / 44.5; 1024^3 43.1 / 41.9 / 39.4; DINO head 256 x 1024 x 256 tB 32.1 / 27.0 / 30.2; 96 x
 * 65536 x 256 tB 25.1 / 31.6 / 27.3. Under K or N 256 the larger forms gain nothing and lose at K
 * 64 (the Fashion-MNIST recipe's 4352 x 64 x 256 tB 28.1 / 30.0 / 28.8, 4352 x 192 x 64 tB 13.4
 * / 12.7 / 16.0, 4352 x 256 x 64 tB 15.2 / 15.4 / 16.5), while they take longer to compile, once
 * per shape and machine (Mesa keeps them in its shader cache): 5.3 s for 64 rows, 3.6 s for 48,
 * 1.9 s for 32 at 512 x 384 x 384 tB.
 */
export function subgroupRows(problem: MatmulProblem): 16 | 32 | 48 | 64 {
  if (problem.m < 48) return 16;
  if (problem.k < 256 || problem.n < 256) return 32;
  const padding = (rows: number) => Math.ceil(problem.m / rows) * rows - problem.m;
  const forms = [64, 48, 32] as const;
  const fits = forms.find((rows) => padding(rows) * 32 <= problem.m);
  if (fits) return fits;
  return forms.reduce((best, rows) => (padding(rows) < padding(best) ? rows : best));
}

/**
 * The variant picked by heuristics, without tuning. On a software adapter (`Gpu.softwareAdapter`)
 * the subgroup kernel where the device has subgroups and the product is large enough to fill its
 * row blocks, with the workgroup fitted to N (`fittedColumnLanes`) and `subgroupRows` rows per
 * lane group (the "fit" forms against the 24-row form with 64-wide workgroups, the default before
 * both: 3152 x 384 x 1536 tB 40.8 against 28.2, 1024^3 38.6 against 34.1, 4352 x 64 x 256 tB
 * 28.3 against 25.4). On a GPU the register-blocked vec4 kernel with 16x4 workgroups, the fastest
 * of all variants on the one GPU measured (an H200: 6631 GFLOP/s at 1024^3 against the subgroup
 * kernel's 4285, 27458 against 21963 at 4096^3, 11330 against 9090 at 3152 x 1536 x 384;
 * docs/GPU_CHECK.md), where the per-lane loads the subgroup kernel saves are cheap. Else
 * workgroup-tiled or scalar. `--tune` measures them all on the adapter at hand.
 */
export function defaultMatmulVariant(problem: MatmulProblem): MatmulVariant {
  const rows = problem.batch * problem.m;
  const software = gpu().softwareAdapter;
  if (software && problem.m >= 16 && problem.n >= 32) {
    const groupRows = subgroupRows(problem);
    const subgroup = matmulVariant(
      groupRows === 16 ? "subgroup-r16x8-64" : `subgroup-r${groupRows}x8-fit`,
    );
    if (subgroup.supports(problem)) return subgroup;
  }
  if (vec4Aligned(problem)) {
    if (rows < 8) return matmulVariant("vec4-r4-8x8");
    return matmulVariant(software ? "vec4-r8-8x8" : "vec4-r8-16x4");
  }
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

/**
 * The tuner's name for running a transposed-A product as a transposed copy of a and the plain
 * product (`matmul`'s weight-gradient path), a choice it weighs against the transposed-A kernels.
 */
export const TRANSPOSED_COPY = "transposed-copy";

/**
 * Products of at least this many multiply-adds with a transposed f32 a (a weight gradient,
 * `dZ^T X`) copy a transposed first and run the plain product unless tuning chose otherwise: the
 * transposed-A kernels read a across its rows, 40x under the plain product of the same size on an
 * H200 (docs/GPU_CHECK.md) and 1.1-1.3x on lavapipe at ViT-S widths, while the copy costs one pass
 * over a (on lavapipe more than it saves at width 64: the tuner weighs both, `TRANSPOSED_COPY`).
 */
export const TRANSPOSED_COPY_MIN_MULTIPLY_ADDS = 2 ** 22;

/** Whether the copy path applies to `problem` at all: a transposed f32 a. */
export function transposedCopyApplies(problem: MatmulProblem): boolean {
  return problem.transposeA && !problem.f16;
}

/**
 * Whether `matmul` runs `problem` (a transposed f32 a) as a transposed copy and the plain product:
 * the tuned choice for its class on this adapter, else by size (`TRANSPOSED_COPY_MIN_MULTIPLY_ADDS`).
 */
export function choosesTransposedCopy(problem: MatmulProblem): boolean {
  collected?.push(problem);
  const tuned = tuningTable()[tuningKey()]?.[shapeClass(problem)];
  if (tuned) return tuned.variant === TRANSPOSED_COPY;
  return transposedCopyByDefault(problem);
}

/** Whether an untuned `problem` copies a transposed: by size (`TRANSPOSED_COPY_MIN_MULTIPLY_ADDS`). */
export function transposedCopyByDefault(problem: MatmulProblem): boolean {
  return problem.batch * problem.m * problem.n * problem.k >= TRANSPOSED_COPY_MIN_MULTIPLY_ADDS;
}

/** Remembers `choice` for `problem`'s shape class on this adapter (memory and cache file). */
export function rememberChoice(problem: MatmulProblem, choice: TunedChoice): void {
  const entries = tuningTable()[tuningKey()] ??= {};
  entries[shapeClass(problem)] = choice;
  saveTable();
}
