/**
 * Reading and writing weights and arrays without Python: safetensors, PyTorch `.pth` archives
 * (through a restricted unpickler that never executes anything), zip archives and `.npy` files.
 * @module
 */
export {
  allocate,
  CheckpointError,
  type DType as StorageDType,
  DTYPE_BYTES,
  elementCount,
  halfToNumber,
  type HostData,
  type HostTensor,
  isDType,
  readSafetensors,
  readSafetensorsFile,
  type Safetensors,
  toFloat32,
  typedView,
  writeSafetensors,
} from "./safetensors.ts";
export * from "./zip.ts";
export * from "./unpickle.ts";
export * from "./pth.ts";
export * from "./npy.ts";
export * from "./image.ts";
export * from "./checkpoints.ts";
export * from "./preprocess.ts";
export * from "./model_file.ts";
