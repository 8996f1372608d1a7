/**
 * dinogpu: self-supervised vision (DINO / DINOv2) on WebGPU, in Deno and the browser.
 *
 * The engine: tensors on the GPU with WGSL kernels, reverse-mode autograd and optimizers.
 *
 * @example
 * ```ts
 * import { backward, initGpu, tensor } from "@dinogpu/dinogpu";
 * await initGpu();
 * const x = tensor([1, 2, 3, 4], [2, 2]);
 * console.log(await x.read());
 * ```
 * @module
 */
export * from "./src/gpu/mod.ts";
export * from "./src/tensor/mod.ts";
