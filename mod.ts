/**
 * dinogpu: self-supervised vision (DINO / DINOv2 ViTs and MLP-Mixers) on WebGPU, in Deno and the
 * browser, on its own WGSL kernels.
 *
 * - `src/gpu`: the device, buffer pool, pipeline cache, dispatch and readback.
 * - `src/tensor`: tensors and autograd. `src/ops`: the op families (forward, gradient, kernels).
 * - `src/nn`: ViT, MLP-Mixer, DINO head. `src/optim`: AdamW, SGD, clipping, EMA, schedules.
 * - `src/io`: safetensors, PyTorch `.pth` (restricted unpickler), `.npy`, images.
 * - `src/data`: data sets, loader, multi-crop augmentation. `src/eval`: k-NN, linear probe, maps.
 * - `src/train`: DINO training. `src/curate`: k-NN search, near-duplicate removal.
 *
 * @example
 * ```ts
 * import { initGpu, matmul, tensor } from "@dinogpu/dinogpu";
 * await initGpu();
 * const a = tensor([1, 2, 3, 4], [2, 2]);
 * console.log(await matmul(a, a).read()); // [7, 10, 15, 22]
 * ```
 * @module
 */
export * from "./src/gpu/mod.ts";
export * from "./src/tensor/mod.ts";
export * from "./src/ops/mod.ts";
export * from "./src/nn/mod.ts";
export * from "./src/optim/mod.ts";
export * from "./src/io/mod.ts";
export * from "./src/data/mod.ts";
export * from "./src/eval/mod.ts";
export * from "./src/train/mod.ts";
export * from "./src/curate/mod.ts";
