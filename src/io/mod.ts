/**
 * Reading and writing weights and arrays without Python: safetensors, PyTorch `.pth` archives
 * (through a restricted unpickler that never executes anything), zip archives and `.npy` files.
 * @module
 */
export {
  CheckpointError,
  readSafetensors,
  readSafetensorsFile,
  type Safetensors,
  writeSafetensors,
} from "./safetensors.ts";
// the host-side tensors every format here reads and writes (src/tensor/host.ts), as before
export {
  allocate,
  DTYPE_BYTES,
  elementCount,
  halfToNumber,
  type HostData,
  type HostTensor,
  isDType,
  type StorageDType,
  toFloat32,
  typedView,
} from "../tensor/host.ts";
export * from "./zip.ts";
export * from "./unpickle.ts";
export * from "./pth.ts";
export * from "./npy.ts";
export * from "./image.ts";
export * from "./checkpoints.ts";
export * from "./preprocess.ts";
export * from "./model_file.ts";
