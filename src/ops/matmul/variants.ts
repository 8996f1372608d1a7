/**
 * The matmul kernel variants, how each is launched, and the split of K into slices for products
 * of few output blocks over a long K. The autotuner that picks among them is ./tuning.ts.
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
  /** Whether a and b are stored as f16 (widened to f32 as they are read; f32 sums and output). */
  f16?: boolean;
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
  /** Kernel file of the f16-operand form, where the variant has one (it then supports f16). */
  readonly f16Kernel?: KernelName;
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
    f16Kernel: "matmul/vec4_f16",
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
    supports: (p) => !p.f16,
    constants: () => ({ WG_X: workgroupX, WG_Y: workgroupY, TILE_K: tileK }),
    workgroups: (p) => [
      Math.ceil(p.n / (4 * workgroupX)),
      Math.ceil(p.m / (4 * workgroupY)),
      p.batch,
    ],
  };
}

/**
 * Lanes across columns that leave the fewest lanes idle at the right edge for N columns (8 per
 * lane): the widest multiple of 8 up to 64 among those, so N = 384 (48 lanes) runs 48-lane rows
 * rather than 64 with 16 idle, N = 1152 (144 lanes) three of 48, and N = 64 one of 8.
 */
export function fittedColumnLanes(n: number): number {
  const lanes = Math.ceil(n / 8);
  const idle = (width: number) => Math.ceil(lanes / width) * width - lanes;
  let best = 64;
  for (let width = 56; width >= 8; width -= 8) {
    if (idle(width) < idle(best)) best = width;
  }
  return best;
}

/**
 * The subgroup kernel. `workgroupX` lanes across the output's columns (one row group), or "fit":
 * `fittedColumnLanes(N)` lanes across columns and as many row groups side by side as fill about 64
 * lanes, so N = 64 (8 lanes) runs 8 row groups rather than 8 busy lanes out of 32 or 64.
 */
function subgroupVariant(rowBlocks: number, workgroupX: number | "fit"): MatmulVariant {
  const rows = 8 * rowBlocks;
  const columnLanes = (p: MatmulProblem) =>
    workgroupX === "fit" ? fittedColumnLanes(p.n) : workgroupX;
  const rowGroups = (p: MatmulProblem) =>
    workgroupX === "fit" ? Math.max(1, Math.floor(64 / columnLanes(p))) : 1;
  const shape = workgroupX === "fit"
    ? "a workgroup fitted to N: the multiple of 8 lanes across columns (at most 64) that " +
      "leaves the fewest idle, and as many row groups as fill 64 lanes"
    : `${workgroupX}x1 workgroup`;
  return {
    name: `subgroup-r${rows}x8-${workgroupX}`,
    description: `subgroup-shared A: ${rows} rows x two vec4 of columns per invocation, groups ` +
      `of 8 lanes share rows through subgroupShuffle, ${shape}, no shared ` +
      `memory (needs the subgroups feature with a subgroup size that is a multiple of 8, and ` +
      `K, N multiples of 4)`,
    kernel: "matmul/subgroup",
    f16Kernel: "matmul/subgroup_f16",
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

/** The scalar variant: any shape and transposes, the fallback of last resort. */
export const scalarVariant: MatmulVariant = {
  name: "scalar-4x4",
  description: "scalar loads, 4x4 block per invocation, 8x8 workgroup (any shape, any transposes)",
  kernel: "matmul/scalar",
  vec4: false,
  splitsK: false,
  supports: (p) => !p.f16,
  constants: () => ({ WG_X: 8, WG_Y: 8 }),
  workgroups: (p) => [Math.ceil(p.n / 32), Math.ceil(p.m / 32), p.batch],
};

/** Every matmul variant, in the tuner's order. */
export const MATMUL_VARIANTS: readonly MatmulVariant[] = [
  subgroupVariant(3, "fit"),
  subgroupVariant(4, "fit"),
  subgroupVariant(3, 64),
  subgroupVariant(2, 64),
  subgroupVariant(4, 64),
  subgroupVariant(3, 32),
  subgroupVariant(6, "fit"),
  subgroupVariant(8, "fit"),
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
  const kernel = problem.f16 ? variant.f16Kernel : variant.kernel;
  if (!kernel) {
    throw new ShapeError(`matmul: variant "${variant.name}" has no form for f16 operands`);
  }
  const dummy = dummyBuffers();
  gpu().dispatch({
    kernel,
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
      `${problem.f16 ? " f16" : ""}` +
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
