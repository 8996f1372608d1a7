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
import { displayImage } from "../../src/io/preprocess.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { UserError } from "../run.ts";
import { checkSize, loadImage, loadWeights, positiveInteger, writeFileAtomic } from "./embed.ts";

/** Options of `attn`. */
export interface AttnOptions {
  /** Weights file or Hugging Face folder. */
  weights: string;
  /** Output folder (created). */
  out: string;
  /** Attention heads (default config or width / 64). */
  heads?: number;
  /** Input side (default 224). */
  size?: number;
}

/** Writes the attention maps of `image` into `options.out`; returns the files written. */
export async function attn(image: string, options: AttnOptions): Promise<string[]> {
  const size = options.size ?? 224;
  const loaded = await loadWeights(options.weights, { arch: "vit", heads: options.heads });
  try {
    const vit = loaded.model;
    if (!(vit instanceof VisionTransformer)) throw new UserError("attn needs a ViT checkpoint");
    const patch = checkSize(loaded, size);
    const input = await loadImage(image, size, patch);
    const images = tensor(input, [1, 3, size, size]);
    const { maps, heads, gridH, gridW } = await clsAttentionMaps(vit, images);
    images.dispose();
    const picture = displayImage(input, size);
    const cells = gridH * gridW;
    await Deno.mkdir(options.out, { recursive: true });
    const written: string[] = [];
    const write = async (name: string, bytes: Uint8Array) => {
      const path = `${options.out.replace(/\/$/, "")}/${name}`;
      await writeFileAtomic(path, bytes);
      written.push(path);
    };
    const average = new Float32Array(cells);
    for (let h = 0; h < heads; h++) {
      const map = maps.subarray(h * cells, (h + 1) * cells);
      for (let i = 0; i < cells; i++) average[i] += map[i] / heads;
      await write(
        `head-${h}.png`,
        heatmapPng(map, gridH, gridW, size, size, { image: picture, alpha: 0.6 }),
      );
    }
    const mask = attentionMask(average, 0.6);
    const maskPixels = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const kept = mask[Math.floor(y * gridH / size) * gridW + Math.floor(x * gridW / size)];
        for (let c = 0; c < 3; c++) {
          const at = (y * size + x) * 3 + c;
          maskPixels[at] = kept ? picture[at] : Math.round(picture[at] * 0.15);
        }
      }
    }
    await write("mask.png", encodePng(maskPixels, size, size));
    await write("attention.npy", writeNpy(maps.slice(0, heads * cells), [heads, gridH, gridW]));
    return written;
  } finally {
    loaded.model.dispose();
  }
}

/** The `attn` command. */
export function attnCommand() {
  return new Command("attn")
    .description("last-block CLS attention per head: PNG heat maps, a 60% mask, attention.npy")
    .argument("<image>", "a .jpg or .png image")
    .requiredOption("--weights <file>", ".pth, .safetensors or a Hugging Face folder")
    .requiredOption("--out <dir>", "output folder")
    .option(
      "--heads <count>",
      "attention heads (default config.json or width / 64)",
      positiveInteger("heads"),
    )
    .option("--size <pixels>", "input side (resize + centre crop)", positiveInteger("size"), 224)
    .action(async (image, options) => {
      const files = await attn(image, options);
      console.error(`attn: ${files.length} files -> ${options.out}`);
    });
}
