/**
 * The subgroup matmul (kernels/matmul/subgroup.wgsl) shares rows among aligned groups of 8 lanes
 * and takes each lane's rows and columns from its local index, so it is only right where those 8
 * lanes are 8 consecutive local indices. WGSL leaves the lane order to the driver; this check runs
 * once on the device (kernels/gpu/subgroup_lanes.wgsl) at every workgroup width the matmul uses, and
 * the matmul falls back to its vec4 kernels where it fails.
 * @module
 */
import type { KernelConstants, KernelName } from "./pipeline_cache.ts";

/**
 * What the check uses of the device: `Gpu` (device.ts) is one. device.ts runs the check when it
 * starts the device, so this module names what it needs instead of importing `Gpu` back.
 */
export interface LaneCheckDevice {
  /** The WebGPU device. */
  readonly device: GPUDevice;
  /** Records one kernel launch. */
  dispatch(call: {
    kernel: KernelName;
    constants: KernelConstants;
    buffers: GPUBuffer[];
    workgroups: readonly [number, number?, number?];
  }): void;
  /** Reads buffer ranges back. */
  readMany(ranges: { buffer: GPUBuffer; bytes: number }[]): Promise<ArrayBuffer[]>;
  /** Waits for the queued work and raises its errors. */
  sync(): Promise<void>;
}

/** Workgroup widths of the subgroup matmul variants (multiples of 8 up to 64). */
export const SUBGROUP_MATMUL_WIDTHS: readonly number[] = [32, 40, 48, 56, 64];

/** What `checkSubgroupLanes` found. */
export interface SubgroupLaneReport {
  /** Whether every aligned group of 8 lanes held one aligned block of 8 local indices. */
  inOrder: boolean;
  /** Invocations whose group was broken, over all widths checked. */
  brokenInvocations: number;
  /** The largest subgroup size seen (0 where nothing ran). */
  subgroupSize: number;
}

/**
 * Whether `gpu` runs the subgroup matmul correctly: the lane check passes (a failure to compile or
 * run it counts as a no, and its errors are drained so that later work does not see them).
 */
export async function subgroupLanesInOrder(gpu: LaneCheckDevice): Promise<boolean> {
  try {
    const report = await checkSubgroupLanes(gpu);
    await gpu.sync();
    return report.inOrder;
  } catch {
    try {
      await gpu.sync();
    } catch {
      // the check's own errors, already answered by the "no"
    }
    return false;
  }
}

/**
 * Runs the lane-layout check on `gpu` (which must have the `subgroups` feature) at each width;
 * `indexShift` != 0 simulates a device whose lanes are out of order (for tests).
 */
export async function checkSubgroupLanes(
  gpu: LaneCheckDevice,
  widths: readonly number[] = SUBGROUP_MATMUL_WIDTHS,
  indexShift = 0,
): Promise<SubgroupLaneReport> {
  const device = gpu.device;
  const results = device.createBuffer({
    size: 8, // [broken invocations, largest subgroup size], shared by every width
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    label: "subgroup lane check",
  });
  try {
    for (const width of widths) {
      gpu.dispatch({
        kernel: "gpu/subgroup_lanes",
        constants: { WG_X: width, INDEX_SHIFT: indexShift },
        buffers: [results],
        workgroups: [4],
      });
    }
    const [bytes] = await gpu.readMany([{ buffer: results, bytes: 8 }]);
    const [brokenInvocations, subgroupSize] = new Uint32Array(bytes);
    return {
      inOrder: brokenInvocations === 0 && subgroupSize > 0,
      brokenInvocations,
      subgroupSize,
    };
  } finally {
    results.destroy();
  }
}
