/**
 * `dinogpu attn`: the last block's CLS-to-patch attention of one image, per head, as PNG heat maps
 * over the image, a PNG mask keeping 60% of the (head-averaged) attention mass, and
 * `attention.npy` [heads, grid_h, grid_w] of the raw softmax probabilities (registers excluded).
 * @module
 */
import { Command } from "commander";
import { attentionMask, clsAttentionMaps, heatmapPng } from "../../src/eval/attention_maps.ts";
import { encodePng } from "../../src/io/image.ts";
import { writeNpy } from "../../src/io/npy.ts";
import { displayImageOf } from "../../src/io/preprocess.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { UserError } from "../run.ts";
import {
  addImageModelOptions,
  type ImageModelOptions,
  loadImage,
  withImageModel,
} from "../shared.ts";
import { OutputFolder } from "../output_files.ts";

/** Options of `attn` (the model is a ViT: `arch` is ignored). */
export interface AttnOptions extends ImageModelOptions {
  /** Output folder (created). */
  out: string;
}

/** Writes the attention maps of `image` into `options.out`; returns the files written. */
export async function attn(image: string, options: AttnOptions): Promise<string[]> {
  return await withImageModel({ ...options, arch: "vit" }, async (loaded, size, patch) => {
    const vit = loaded.model;
    if (!(vit instanceof VisionTransformer)) throw new UserError("attn needs a ViT checkpoint");
    const { width, height } = size;
    const input = await loadImage(image, size, patch);
    const images = tensor(input, [1, 3, height, width]);
    const { maps, heads, gridH, gridW } = await clsAttentionMaps(vit, images);
    images.dispose();
    const picture = displayImageOf(input, width, height);
    const cells = gridH * gridW;
    const out = new OutputFolder(options.out);
    const average = new Float32Array(cells);
    for (let h = 0; h < heads; h++) {
      const map = maps.subarray(h * cells, (h + 1) * cells);
      for (let i = 0; i < cells; i++) average[i] += map[i] / heads;
      await out.write(
        `head-${h}.png`,
        heatmapPng(map, gridH, gridW, width, height, { image: picture, alpha: 0.6 }),
      );
    }
    const mask = attentionMask(average, 0.6);
    const maskPixels = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const kept = mask[Math.floor(y * gridH / height) * gridW + Math.floor(x * gridW / width)];
        for (let c = 0; c < 3; c++) {
          const at = (y * width + x) * 3 + c;
          maskPixels[at] = kept ? picture[at] : Math.round(picture[at] * 0.15);
        }
      }
    }
    await out.write("mask.png", encodePng(maskPixels, width, height));
    await out.write("attention.npy", writeNpy(maps.slice(0, heads * cells), [heads, gridH, gridW]));
    return out.written;
  });
}

/** The `attn` command. */
export function attnCommand() {
  return addImageModelOptions(
    new Command("attn")
      .description("last-block CLS attention per head: PNG heat maps, a 60% mask, attention.npy")
      .argument("<image>", "a .jpg or .png image"),
  )
    .requiredOption("--out <dir>", "output folder")
    .action(async (image, options) => {
      const files = await attn(image, options);
      console.error(`attn: ${files.length} files -> ${options.out}`);
    });
}
