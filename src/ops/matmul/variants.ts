/**
 * The matmul kernel variants, how each is launched, and the autotuner that picks the fastest per
 * adapter and shape class. The choice is cached in memory and in
 * `$XDG_CACHE_HOME/dinogpu/matmul_tuning.json` (or `~/.cache/dinogpu/`) when the process may.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import type { KernelConstants, KernelName } from "../../gpu/pipeline_cache.ts";

/** One matmul launch: `batch` products of op(a) [m, k] and op(b) [k, n]. */
export interface MatmulProblem {
  /** Number of products (1 when nothing is batched). */
  batch: number;
  /** Rows of the output. */
  m: number;
  /** Columns of the output. */
  n: number;
  /** Inner size. */
  k: number;
  /** Whether a is stored as [k, m]. */
  transposeA: boolean;
  /** Whether b is stored as [n, k]. */
  transposeB: boolean;
  /** Whether a is one matrix shared by every batch entry. */
  sharedA: boolean;
  /** Whether b is one matrix shared by every batch entry. */
  sharedB: boolean;
}

/** The fused epilogue: out = act(a @ b + bias) + residual. */
export interface MatmulEpilogue {
  /** Add a bias of n values to every row. */
  bias: boolean;
  /** Apply GELU (erf form). */
  gelu: boolean;
  /** Add a residual of the output's shape. */
  residual: boolean;
  /** Also write the pre-activation (before GELU) into the `pre` buffer. */
  savePre: boolean;
}

/** The buffers of one launch. */
export interface MatmulBuffers {
  /** Left operand. */
  a: GPUBuffer;
  /** Right operand. */
  b: GPUBuffer;
  /** Output. */
  out: GPUBuffer;
  /** Bias, when the epilogue adds one. */
  bias?: GPUBuffer;
  /** Residual, when the epilogue adds one. */
  residual?: GPUBuffer;
  /** Pre-activation output, when the epilogue saves it. */
  pre?: GPUBuffer;
}

/** A matmul kernel variant. */
export interface MatmulVariant {
  /** Name used by `matmul(..., { variant })`, the tuner and the bench. */
  readonly name: string;
  /** What the variant does. */
  readonly description: string;
  /** Kernel file. */
  readonly kernel: KernelName;
  /** Whether the variant handles this problem. */
  supports(problem: MatmulProblem): boolean;
  /** Override constants of the pipeline for this problem. */
  constants(problem: MatmulProblem): KernelConstants;
  /** Workgroup counts for this problem. */
  workgroups(problem: MatmulProblem): [number, number, number];
  /** Whether batch strides are given in vec4 units. */
  readonly vec4: boolean;
  /** Whether the kernel can split K into slices (`kSlice`), each writing a partial product. */
  readonly splitsK: boolean;
}

function vec4Variant(rows: number, workgroupX: number, workgroupY: number): MatmulVariant {
  return {
    name: `vec4-r${rows}-${workgroupX}x${workgroupY}`,
    description: `register-blocked: ${rows} rows x one vec4 of columns per invocation, ` +
      `${workgroupX}x${workgroupY} workgroup, no shared memory (needs K, N multiples of 4, ` +
      `and M with transposeA)`,
    kernel: "matmul/vec4",
    vec4: true,
    splitsK: true,
    supports: (p) => p.k % 4 === 0 && p.n % 4 === 0 && (!p.transposeA || p.m % 4 === 0),
    constants: (p) => ({
      WG_X: workgroupX,
      WG_Y: workgroupY,
      ROWS: rows,
      TRANSPOSE_A: p.transposeA ? 1 : 0,
      TRANSPOSE_B: p.transposeB ? 1 : 0,
    }),
    workgroups: (p) => [
      Math.ceil(p.n / 4 / workgroupX),
      Math.ceil(p.m / rows / workgroupY),
      p.batch,
    ],
  };
}

function tiledVariant(workgroupX: number, workgroupY: number, tileK: number): MatmulVariant {
  return {
    name: `tiled-${4 * workgroupY}x${4 * workgroupX}x${tileK}`,
    description: `workgroup-tiled through shared memory: ${4 * workgroupY}x${4 * workgroupX} ` +
      `tile, K slices of ${tileK}, 4x4 per invocation (any shape, any transposes)`,
    kernel: "matmul/tiled",
    vec4: false,
    splitsK: false,
    supports: () => true,
    constants: () => ({ WG_X: workgroupX, WG_Y: workgroupY, TILE_K: tileK }),
    workgroups: (p) => [
      Math.ceil(p.n / (4 * workgroupX)),
      Math.ceil(p.m / (4 * workgroupY)),
      p.batch,
    ],
  };
}

/**
 * The subgroup kernel. `workgroupX` lanes across the output's columns (one row group), or "fit": as
 * many lanes across columns as N needs (a multiple of 8, at most 64) and as many row groups side
 * by side as fill about 64 lanes, so N = 64 (8 lanes) runs 8 row groups rather than 8 busy lanes
 * out of 32 or 64.
 */
function subgroupVariant(rowBlocks: number, workgroupX: number | "fit"): MatmulVariant {
  const rows = 8 * rowBlocks;
  const columnLanes = (p: MatmulProblem) =>
    workgroupX === "fit" ? Math.min(64, 8 * Math.ceil(p.n / 64)) : workgroupX;
  const rowGroups = (p: MatmulProblem) =>
    workgroupX === "fit" ? Math.max(1, Math.floor(64 / columnLanes(p))) : 1;
  const shape = workgroupX === "fit"
    ? "a workgroup fitted to N: ceil(N / 8) lanes across columns rounded up to 8 (at most 64) " +
      "and as many row groups as fill 64 lanes"
    : `${workgroupX}x1 workgroup`;
  return {
    name: `subgroup-r${rows}x8-${workgroupX}`,
    description: `subgroup-shared A: ${rows} rows x two vec4 of columns per invocation, groups ` +
      `of 8 lanes share rows through subgroupShuffle, ${shape}, no shared ` +
      `memory (needs the subgroups feature with a subgroup size that is a multiple of 8, and ` +
      `K, N multiples of 4)`,
    kernel: "matmul/subgroup",
    vec4: false,
    splitsK: true,
    supports: (p) => p.k % 4 === 0 && p.n % 4 === 0 && hasSubgroupsOfEight(),
    constants: (p) => ({
      WG_X: columnLanes(p) * rowGroups(p),
      COLUMN_LANES: columnLanes(p),
      ROW_BLOCKS: rowBlocks,
      A_LAYOUT: p.transposeA ? (p.m % 4 === 0 ? 2 : 1) : 0,
      TRANSPOSE_B: p.transposeB ? 1 : 0,
    }),
    workgroups: (p) => [
      Math.ceil(p.n / 8 / columnLanes(p)),
      Math.ceil(p.m / (rows * rowGroups(p))),
      p.batch,
    ],
  };
}

/**
 * Whether the device runs subgroup kernels whose groups of 8 lanes must be whole and in order:
 * the subgroups feature, a minimum subgroup size of 8 or more where the adapter reports one
 * (lavapipe has 8 and does not report it), and lanes laid out as the on-device check at start-up
 * found them (src/gpu/subgroup_lanes.ts).
 */
export function hasSubgroupsOfEight(): boolean {
  const device = gpu();
  if (!device.subgroupLanesInOrder) return false; // false without the subgroups feature
  const minimum = (device.adapterInfo as { subgroupMinSize?: number }).subgroupMinSize;
  return minimum === undefined || minimum === 0 || minimum % 8 === 0;
}

const scalarVariant: MatmulVariant = {
  name: "scalar-4x4",
  description: "scalar loads, 4x4 block per invocation, 8x8 workgroup (any shape, any transposes)",
  kernel: "matmul/scalar",
  vec4: false,
  splitsK: false,
  supports: () => true,
  constants: () => ({ WG_X: 8, WG_Y: 8 }),
  workgroups: (p) => [Math.ceil(p.n / 32), Math.ceil(p.m / 32), p.batch],
};

/** Every matmul variant, in the tuner's order. */
export const MATMUL_VARIANTS: readonly MatmulVariant[] = [
  subgroupVariant(3, "fit"),
  subgroupVariant(3, 64),
  subgroupVariant(2, 64),
  subgroupVariant(4, 64),
  subgroupVariant(3, 32),
  vec4Variant(8, 8, 8),
  vec4Variant(4, 8, 8),
  vec4Variant(8, 16, 4),
  tiledVariant(8, 8, 16),
  tiledVariant(16, 16, 8),
  scalarVariant,
];

/** The variant called `name`; throws a ShapeError listing the names otherwise. */
export function matmulVariant(name: string): MatmulVariant {
  const variant = MATMUL_VARIANTS.find((candidate) => candidate.name === name);
  if (!variant) {
    throw new ShapeError(
      `matmul: unknown variant "${name}" (known: ${MATMUL_VARIANTS.map((v) => v.name).join(", ")})`,
    );
  }
  return variant;
}

const dummies = new WeakMap<GPUDevice, { read: GPUBuffer; write: GPUBuffer }>();

function dummyBuffers(): { read: GPUBuffer; write: GPUBuffer } {
  const device = gpu().device;
  let pair = dummies.get(device);
  if (!pair) {
    const make = (label: string) =>
      device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label });
    pair = { read: make("matmul unused input"), write: make("matmul unused output") };
    dummies.set(device, pair);
  }
  return pair;
}

/**
 * Records one launch of `variant` (which must support `problem`). With `kSlice` > 0 (a multiple of
 * 4; only for a variant that `splitsK`, a problem of one batch entry and no epilogue) K is cut
 * into slices of that depth and `out` receives one partial [M, N] product per slice, to be summed.
 */
export function dispatchMatmul(
  variant: MatmulVariant,
  problem: MatmulProblem,
  buffers: MatmulBuffers,
  epilogue: MatmulEpilogue,
  kSlice = 0,
): void {
  const { m, n, k } = problem;
  const slices = kSlice > 0 ? Math.ceil(k / kSlice) : 0;
  if (slices > 0 && (!variant.splitsK || problem.batch !== 1 || kSlice % 4 !== 0)) {
    throw new ShapeError(
      `matmul: cannot split K = ${k} into slices of ${kSlice} with variant "${variant.name}" ` +
        `(batch ${problem.batch}; needs a variant that splits K, one batch entry, slices of 4n)`,
    );
  }
  const unit = variant.vec4 ? 4 : 1;
  const params = new Uint32Array(12);
  params[0] = m;
  params[1] = n;
  params[2] = k;
  params[3] = (epilogue.bias ? 1 : 0) | (epilogue.gelu ? 2 : 0) | (epilogue.residual ? 4 : 0) |
    (epilogue.savePre && epilogue.gelu ? 8 : 0);
  params[4] = problem.sharedA || slices > 0 ? 0 : (m * k) / unit;
  params[5] = problem.sharedB || slices > 0 ? 0 : (k * n) / unit;
  params[6] = problem.transposeA ? 1 : k; // strideAm
  params[7] = problem.transposeA ? m : 1; // strideAk
  params[8] = problem.transposeB ? 1 : n; // strideBk
  params[9] = problem.transposeB ? k : 1; // strideBn
  params[10] = kSlice;
  const launched = slices > 0 ? { ...problem, batch: slices } : problem;
  const dummy = dummyBuffers();
  gpu().dispatch({
    kernel: variant.kernel,
    constants: variant.constants(problem),
    buffers: [
      buffers.a,
      buffers.b,
      epilogue.bias && buffers.bias ? buffers.bias : dummy.read,
      epilogue.residual && buffers.residual ? buffers.residual : dummy.read,
      buffers.out,
      epilogue.savePre && epilogue.gelu && buffers.pre ? buffers.pre : dummy.write,
    ],
    params,
    workgroups: variant.workgroups(launched),
    label: `${problem.batch > 1 ? `${problem.batch}x` : ""}${m}x${n}x${k}` +
      `${problem.transposeA ? " tA" : ""}${problem.transposeB ? " tB" : ""}` +
      `${slices > 0 ? ` split ${slices}` : ""}`,
  });
}

/** The most slices K is split into. */
const MAX_K_SLICES = 64;
/** The least depth of a K slice: shallower slices cost more in partial sums than they gain. */
const MIN_K_SLICE_DEPTH = 256;
/** The most elements of the partial products of a split (64 MiB of f32). */
const MAX_PARTIAL_ELEMENTS = 2 ** 24;

/**
 * Invocations one dispatch needs to keep the adapter busy, roughly. A software adapter (Mesa's
 * lavapipe, SwiftShader) runs a workgroup per CPU thread with its lanes in SIMD registers, so a few
 * hundred invocations per thread fill it; a GPU keeps tens of thousands in flight (an H200: 132
 * multiprocessors of up to 2048 threads each).
 */
export function busyInvocations(): number {
  const info = gpu().adapterInfo as { isFallbackAdapter?: boolean };
  if (info.isFallbackAdapter) {
    const threads = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)
      ?.hardwareConcurrency ?? 4;
    return 256 * threads;
  }
  return 2 ** 17;
}

/**
 * How many slices of K a plain product (no epilogue, one batch entry) is split into so that the
 * adapter has enough invocations: 1 when the output alone keeps it busy. A weight gradient of a
 * ViT (M x N = 1536 x 384 over K = 32 x 197 tokens) has few output blocks and a long K: unsplit,
 * its 64 workgroups left an H200 idle (36 ms against 0.7 ms for the forward product of the same
 * size). Slices are at least 256 deep, at most 64, and their partials at most 2^24 elements.
 */
export function kSliceCount(variant: MatmulVariant, problem: MatmulProblem): number {
  if (!variant.splitsK || problem.batch !== 1) return 1;
  const [x, y, z] = variant.workgroups(problem);
  const constants = variant.constants(problem);
  const perWorkgroup = Number(constants.WG_X ?? 1) * Number(constants.WG_Y ?? 1);
  const wanted = Math.ceil(busyInvocations() / (x * y * z * perWorkgroup));
  const byDepth = Math.floor(problem.k / MIN_K_SLICE_DEPTH);
  const byMemory = Math.floor(MAX_PARTIAL_ELEMENTS / (problem.m * problem.n));
  return Math.max(1, Math.min(wanted, byDepth, byMemory, MAX_K_SLICES));
}

/** The depth of each of `slices` slices of K (a multiple of 4; the last slice may be shallower). */
export function kSliceDepth(k: number, slices: number): number {
  return 4 * Math.ceil(k / slices / 4);
}

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
    `:k${powerOfTwo(problem.k)}:${aligned}`;
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
  try {
    Deno.mkdirSync(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(file, JSON.stringify(table, null, 1));
  } catch {
    // read-only home or no permission: keep the in-memory table only
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

/** The variant matmul uses for `problem`: the tuned one for its class on this adapter, or the default. */
export function chooseMatmulVariant(problem: MatmulProblem): MatmulVariant {
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
  const candidates = (options.variants ?? MATMUL_VARIANTS.map((v) => v.name))
    .map(matmulVariant)
    .filter((variant) => variant.supports(problem));
  const budgetMs = options.budgetMs ?? 1200;
  const perVariant = budgetMs / Math.max(1, candidates.length);
  const deadline = performance.now() + budgetMs;
  const buffers = scratchBuffers(problem);
  const timings: VariantTiming[] = [];
  try {
    // The likely fastest come first; once the budget is spent the rest are not tried.
    for (const variant of candidates) {
      if (timings.length > 0 && performance.now() > deadline) break;
      const best = Math.min(...timings.map((t) => t.milliseconds));
      timings.push(await timeOn(variant, problem, buffers, perVariant, undefined, best));
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
