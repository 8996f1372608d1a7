/**
 * The WebGPU runtime: device, buffer pool, pipeline cache, dispatch and readback.
 * @module
 */
export {
  type DispatchCall,
  Gpu,
  gpu,
  type GpuOptions,
  initGpu,
  releaseGpu,
  type RuntimeCounters,
} from "./device.ts";
export { BindingCache } from "./bindings.ts";
export { CommandStream } from "./commands.ts";
export { requestGpuDevice } from "./adapter.ts";
export {
  type StepInputBuffer,
  type StepInputData,
  type StepInputFactories,
  type StepOutput,
  type StepOutputs,
  StepRecorder,
  type StepRecorderOptions,
} from "./recorder.ts";
export type {
  CapturedCommand,
  CapturedCommands,
  CopyCommand,
  DispatchCommand,
  UploadCommand,
} from "./capture.ts";
export { BufferPool, type BufferSpan, type PoolCounters, sizeClass } from "./buffer_pool.ts";
export {
  type KernelConstants,
  type KernelName,
  kernelSource,
  PipelineCache,
  type PipelineKey,
  registerKernelSource,
} from "./pipeline_cache.ts";
export {
  DisposedTensorError,
  GpuRuntimeError,
  GpuTimeoutError,
  GpuUnavailableError,
  KernelCompileError,
  ShapeError,
} from "./errors.ts";
export { formatKernelTimes, KernelProfiler, type KernelTime } from "./profiler.ts";
export { flatWorkgroups } from "./launch.ts";
export { withWatchdog } from "./watchdog.ts";
export {
  checkSubgroupLanes,
  type LaneCheckDevice,
  SUBGROUP_MATMUL_WIDTHS,
  type SubgroupLaneReport,
  subgroupLanesInOrder,
} from "./subgroup_lanes.ts";
export { KERNEL_SOURCES } from "./kernel_sources.generated.ts";
