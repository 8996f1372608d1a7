/**
 * `dinogpu pca`: the DINOv2-style image of the first three principal components of the patch
 * features of one or more images (fitted jointly), one PNG per image.
 * @module
 */
import { Command } from "commander";
import { pcaImages } from "../../src/eval/pca.ts";
import { encodePng } from "../../src/io/image.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import { noGrad } from "../../src/tensor/tape.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { UserError } from "../run.ts";
import {
  addImageModelOptions,
  type ImageModelOptions,
  listImages,
  loadImage,
  withImageModel,
} from "../shared.ts";
import { OutputFolder } from "../output_files.ts";

/** Options of `pca`. */
export interface PcaOptions extends ImageModelOptions {
  /** Output folder (created). */
  out: string;
  /** Foreground threshold on the first component (see `pcaImages`). */
  threshold?: number;
}

function baseName(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

/** Writes `<name>-pca.png` for each image into `options.out`; returns the files written. */
export async function pca(inputs: readonly string[], options: PcaOptions): Promise<string[]> {
  const files = await listImages(inputs);
  if (files.length === 0) throw new UserError("pca: no images given");
  return await withImageModel(options, async (loaded, size, patch) => {
    const { width, height } = size;
    const host = new Float32Array(files.length * 3 * width * height);
    for (const [i, file] of files.entries()) {
      host.set(await loadImage(file, size, patch), i * 3 * width * height);
    }
    const images = tensor(host, [files.length, 3, height, width]);
    const patches = noGrad(() => {
      const model = loaded.model;
      if (model instanceof VisionTransformer) {
        const output = model.forward(images);
        output.cls.dispose();
        return output.patches;
      }
      const output = model.forward(images);
      output.pooled.dispose();
      return output.tokens;
    });
    images.dispose();
    const features = await patches.read() as Float32Array;
    const dim = patches.shape[2];
    patches.dispose();
    const pictures = pcaImages(features, files.length, dim, {
      gridH: height / patch,
      gridW: width / patch,
      outW: width,
      outH: height,
      foregroundThreshold: options.threshold,
    });
    const out = new OutputFolder(options.out);
    const used = new Map<string, number>();
    for (const [i, file] of files.entries()) {
      let name = baseName(file);
      const count = used.get(name) ?? 0;
      used.set(name, count + 1);
      if (count) name += `-${count}`;
      await out.write(`${name}-pca.png`, encodePng(pictures[i], width, height));
    }
    return out.written;
  });
}

/** The `pca` command. */
export function pcaCommand() {
  return addImageModelOptions(
    new Command("pca")
      .description("RGB image of the first three principal components of the patch features")
      .argument("<inputs...>", "images or folders"),
  )
    .requiredOption("--out <dir>", "output folder")
    .option("--threshold <value>", "foreground threshold on the first component (0..1)", Number)
    .action(async (inputs, options) => {
      const files = await pca(inputs, options);
      console.error(`pca: ${files.length} images -> ${options.out}`);
    });
}
