/**
 * Reading and writing weights and arrays without Python: safetensors, PyTorch `.pth` archives
 * (through a restricted unpickler that never executes anything), zip archives and `.npy` files;
 * loading pretrained weights (official DINO / DINOv2 / DINOv3, timm, Hugging Face, dinogpu's own
 * files) into models (pretrained/). Training checkpoints, which resume a run, are
 * src/train/checkpoint.ts.
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
export {
  PickleGlobal,
  PickleObject,
  type PickleValue,
  type TorchStorage,
  UnpickledTensor,
} from "./pickle/values.ts";
export { rebuildTensor, STORAGE_DTYPES } from "./pickle/torch_globals.ts";
export { DEFAULT_INERT_CLASSES, unpickle, type UnpickleOptions } from "./pickle/unpickle.ts";
export * from "./pth.ts";
export * from "./npy.ts";
export * from "./image.ts";
export * from "./image_header.ts";
export * from "./preprocess.ts";
export * from "./pretrained/read.ts";
export * from "./pretrained/layouts.ts";
export * from "./pretrained/architecture.ts";
export * from "./pretrained/dinov3.ts";
export * from "./pretrained/model_file.ts";
export * from "./pretrained/load.ts";
export * from "./pretrained/bytes.ts";
