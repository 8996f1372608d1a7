/**
 * The browser entry of dinogpu: the inference path (device, tensors, ViT and MLP-Mixer forward,
 * attention maps, patch features) and weights read from bytes in every format dinogpu reads
 * (safetensors with official, timm or Hugging Face names, official DINO / DINOv2 / DINOv3 `.pth`,
 * dinogpu's own files), without anything that needs Deno. `tools/bundle.ts` bundles it with
 * esbuild into `examples/browser/dinogpu.js`.
 *
 * @example
 * ```ts
 * import { initGpu, loadModelFromBytes, runVitOnImage, VisionTransformer } from "./dinogpu.js";
 * await initGpu();
 * const { model } = await loadModelFromBytes(weightsBytes, { name: "dinov2_vits14.pth" });
 * if (model instanceof VisionTransformer) {
 *   const { attention, patches, gridH, gridW } = await runVitOnImage(model, imageData, 448);
 * }
 * ```
 * @module
 */
import { IMAGENET_MEAN, IMAGENET_STD } from "./data/imagenet.ts";
import { gpu, initGpu } from "./gpu/device.ts";
import { ShapeError } from "./gpu/errors.ts";
import type { Safetensors } from "./io/safetensors.ts";
import type { HostTensor } from "./tensor/host.ts";
import type { VisionTransformer, VitConfig } from "./nn/vit.ts";
import type { MlpMixer } from "./nn/mixer.ts";
import { slice } from "./ops/shape/forward.ts";
import { noGrad } from "./tensor/tape.ts";
import { readAll, tensor } from "./tensor/tensor.ts";

export { gpu, initGpu };
export type { Gpu, GpuOptions } from "./gpu/device.ts";
export {
  GpuRuntimeError,
  GpuUnavailableError,
  KernelCompileError,
  ShapeError,
} from "./gpu/errors.ts";
export { full, readAll, Tensor, tensor, tidy, zeros } from "./tensor/tensor.ts";
export { noGrad } from "./tensor/tape.ts";
export { Module } from "./nn/module.ts";
export { VisionTransformer, VIT_SIZES, vitConfig } from "./nn/vit.ts";
export type { VitConfig, VitOutput } from "./nn/vit.ts";
export { MIXER_SIZES, mixerConfig, MlpMixer } from "./nn/mixer.ts";
export type { MixerConfig, MixerOutput } from "./nn/mixer.ts";
export { CheckpointError, readSafetensors, writeSafetensors } from "./io/safetensors.ts";
export {
  assumedHeads,
  type HeadsSource,
  loadModelFromBytes,
  modelFromWeights,
  parseConfigJson,
  readWeights,
  type WeightsContents,
  type WeightsFormat,
  weightsFormat,
  type WeightsModel,
} from "./io/pretrained/bytes.ts";
export type { CheckpointLayout } from "./io/pretrained/layouts.ts";
export type { LoadedModel, LoadModelOptions } from "./io/pretrained/load.ts";
export { componentColours, minMax, principalComponents } from "./eval/pca.ts";
export type { PrincipalComponents } from "./eval/pca.ts";
export { VIRIDIS } from "./eval/colormap.ts";
export { toFloat32 } from "./tensor/host.ts";
export type { Safetensors } from "./io/safetensors.ts";
export type { HostTensor } from "./tensor/host.ts";

export { IMAGENET_MEAN, IMAGENET_STD } from "./data/imagenet.ts";

/** RGBA pixels as a canvas gives them (`ImageData` has this shape). */
export interface RgbaImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Row-major RGBA bytes, 4 per pixel. */
  data: Uint8Array | Uint8ClampedArray;
}

/** An input size in pixels (both multiples of the patch for a ViT). */
export interface InputSize {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** What `runVitOnImage` returns. */
export interface VitImageResult {
  /** The CLS features after the final norm [dim]. */
  cls: Float32Array;
  /** The patch features after the final norm [gridH * gridW, dim], row-major patches. */
  patches: Float32Array;
  /** Feature width. */
  dim: number;
  /** Attention of the last block's CLS query to each patch, [heads, gridH, gridW] row-major. */
  attention: Float32Array;
  /** Attention heads. */
  heads: number;
  /** Patch grid height. */
  gridH: number;
  /** Patch grid width. */
  gridW: number;
}

/**
 * The state dict `Module.loadStateDict` takes, from a safetensors file's tensors (it converts
 * F16, BF16 and F64 values to float32 itself).
 */
export function stateDictFromSafetensors(file: Safetensors): Map<string, HostTensor> {
  return file.tensors;
}

/**
 * Reads a ViT configuration off an official-style state dict (`cls_token`, `pos_embed`,
 * `patch_embed.proj.weight`, `blocks.N.*`): width, depth, patch size, image size, registers,
 * LayerScale, qkv bias, MLP or SwiGLU. The head count is not stored: pass it (default width / 64).
 */
export function vitConfigFromStateDict(
  state: Map<string, HostTensor>,
  heads?: number,
): Partial<VitConfig> {
  const need = (name: string) => {
    const value = state.get(name);
    if (!value) throw new ShapeError(`vitConfigFromStateDict: the checkpoint has no "${name}"`);
    return value;
  };
  const embedDim = need("cls_token").shape.at(-1)!;
  const patchSize = need("patch_embed.proj.weight").shape[2];
  const inChannels = need("patch_embed.proj.weight").shape[1];
  const positions = need("pos_embed").shape[1] - 1;
  const side = Math.round(Math.sqrt(positions));
  let depth = 0;
  while (state.has(`blocks.${depth}.norm1.weight`)) depth++;
  const swiglu = state.has("blocks.0.mlp.w12.weight");
  const hidden = swiglu ? undefined : need("blocks.0.mlp.fc1.weight").shape[0];
  return {
    embedDim,
    patchSize,
    inChannels,
    imageSize: side * patchSize,
    depth,
    heads: heads ?? Math.max(1, Math.round(embedDim / 64)),
    mlpRatio: hidden === undefined ? 4 : hidden / embedDim,
    qkvBias: state.has("blocks.0.attn.qkv.bias"),
    layerScaleInit: state.has("blocks.0.ls1.gamma") ? 1 : undefined,
    registers: state.get("register_tokens")?.shape[1] ?? 0,
    feedForward: swiglu ? "swiglu" : "mlp",
    maskToken: state.has("mask_token"),
  };
}

/**
 * The input size of an image `width` x `height` whose longer side becomes about `longSide` pixels,
 * keeping its aspect: both sides rounded to whole patches (at least one).
 */
export function inputSizeFor(
  width: number,
  height: number,
  longSide: number,
  patch: number,
): InputSize {
  const scale = longSide / Math.max(width, height);
  const side = (pixels: number) => Math.max(1, Math.round((pixels * scale) / patch)) * patch;
  return { width: side(width), height: side(height) };
}

/**
 * Resizes RGBA pixels to `size` (a side for a square, or width and height; bilinear, half-pixel
 * centres, no antialiasing), then normalises each RGB channel with the ImageNet mean and deviation
 * into planar NCHW floats [1, 3, height, width]. Alpha is ignored.
 */
export function imageToInput(image: RgbaImage, size: number | InputSize): Float32Array {
  const { width, height, data } = image;
  const out = typeof size === "number" ? { width: size, height: size } : size;
  for (const side of [out.width, out.height]) {
    if (!Number.isInteger(side) || side < 1) {
      throw new ShapeError(`imageToInput: sizes must be whole numbers >= 1, got ${side}`);
    }
  }
  if (width < 1 || height < 1 || data.length !== width * height * 4) {
    throw new ShapeError(
      `imageToInput: RGBA data of ${data.length} bytes does not match ${width}x${height} pixels ` +
        `(want ${width * height * 4})`,
    );
  }
  const plane = out.width * out.height;
  const input = new Float32Array(3 * plane);
  const scaleY = height / out.height;
  const scaleX = width / out.width;
  for (let y = 0; y < out.height; y++) {
    const sourceY = Math.min(Math.max((y + 0.5) * scaleY - 0.5, 0), height - 1);
    const y0 = Math.floor(sourceY);
    const y1 = Math.min(y0 + 1, height - 1);
    const fy = sourceY - y0;
    for (let x = 0; x < out.width; x++) {
      const sourceX = Math.min(Math.max((x + 0.5) * scaleX - 0.5, 0), width - 1);
      const x0 = Math.floor(sourceX);
      const x1 = Math.min(x0 + 1, width - 1);
      const fx = sourceX - x0;
      for (let c = 0; c < 3; c++) {
        const top = data[(y0 * width + x0) * 4 + c] * (1 - fx) +
          data[(y0 * width + x1) * 4 + c] * fx;
        const bottom = data[(y1 * width + x0) * 4 + c] * (1 - fx) +
          data[(y1 * width + x1) * 4 + c] * fx;
        const value = (top * (1 - fy) + bottom * fy) / 255;
        input[c * plane + y * out.width + x] = (value - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
      }
    }
  }
  return input;
}

/**
 * Runs a ViT on one RGBA image resized to `size` (a side, or width and height: multiples of the
 * patch): returns the CLS and patch features after the final norm and the last block's per-head
 * attention of the CLS token to the patches (DINO's attention maps; registers left out).
 */
export async function runVitOnImage(
  model: VisionTransformer,
  image: RgbaImage,
  size: number | InputSize,
): Promise<VitImageResult> {
  const { width, height } = typeof size === "number" ? { width: size, height: size } : size;
  const patch = model.config.patchSize;
  if (width % patch !== 0 || height % patch !== 0) {
    throw new ShapeError(
      `runVitOnImage: ${width}x${height} is not a whole number of ${patch}-pixel patches`,
    );
  }
  const input = tensor(imageToInput(image, { width, height }), [1, 3, height, width]);
  const registers = model.config.registers;
  const heads = model.config.heads;
  const [cls, patches, maps] = noGrad(() => {
    const output = model.forward(input);
    const probabilities = model.lastSelfAttention(input); // [1, heads, N, N]
    const tokens = probabilities.shape[2];
    const clsRow = slice(probabilities, 2, 0, 1); // [1, heads, 1, N]
    const maps = slice(clsRow, 3, 1 + registers, tokens); // [1, heads, 1, patches]
    for (const t of [probabilities, clsRow]) t.dispose();
    return [output.cls, output.patches, maps];
  });
  input.dispose();
  const dim = patches.shape[2];
  const [clsValues, patchValues, mapValues] = await readAll([cls, patches, maps]);
  for (const t of [cls, patches, maps]) t.dispose();
  await gpu().sync();
  const gridH = height / patch;
  const gridW = width / patch;
  if (mapValues.length !== heads * gridH * gridW) {
    throw new ShapeError(
      `runVitOnImage: ${mapValues.length / heads} patch tokens for a ${gridH}x${gridW} grid`,
    );
  }
  return {
    cls: clsValues as Float32Array,
    patches: patchValues as Float32Array,
    dim,
    attention: mapValues as Float32Array,
    heads,
    gridH,
    gridW,
  };
}

/** Runs an MLP-Mixer on one RGBA image resized to `size` x `size`; returns the pooled features. */
export async function runMixerOnImage(
  model: MlpMixer,
  image: RgbaImage,
  size: number,
): Promise<Float32Array> {
  const input = tensor(imageToInput(image, size), [1, 3, size, size]);
  const output = noGrad(() => model.forward(input));
  input.dispose();
  output.tokens.dispose();
  const [pooled] = await readAll([output.pooled]);
  output.pooled.dispose();
  return pooled as Float32Array;
}
