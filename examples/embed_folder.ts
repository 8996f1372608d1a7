/**
 * Embeds every PNG and JPEG image of a folder with a Vision Transformer and prints the feature
 * shapes and the first CLS feature values of each image. With a safetensors checkpoint (official DINO names,
 * such as a converted dino_vits16), its weights are used; without one, a small random ViT.
 *
 * ```sh
 * deno run --allow-read --allow-env examples/embed_folder.ts tests/fixtures/images
 * deno run --allow-read --allow-env examples/embed_folder.ts photos/ dino_vits16.safetensors --heads 6
 * ```
 * @module
 */
// Until mod.ts re-exports the model and checkpoint modules, these come from their own files.
import { initGpu, noGrad, readAll, tensor } from "../mod.ts";
import { readImageFile } from "../src/io/image.ts";
import { readSafetensorsFile } from "../src/io/safetensors.ts";
import { imageToInput, VisionTransformer, vitConfigFromStateDict } from "../src/browser.ts";

/** CLS features of the images of one folder. */
export interface FolderFeatures {
  /** Image file names, sorted. */
  names: string[];
  /** CLS features, one row of `dim` values per image. */
  features: Float32Array[];
}

/** Builds the model: the checkpoint's when given, else a small random ViT. */
export async function loadModel(checkpoint?: string, heads?: number): Promise<VisionTransformer> {
  if (!checkpoint) {
    return new VisionTransformer({ imageSize: 64, patchSize: 16, embedDim: 64, depth: 2, heads: 2 })
      .eval();
  }
  const { tensors } = await readSafetensorsFile(checkpoint);
  const model = new VisionTransformer(vitConfigFromStateDict(tensors, heads)).eval();
  model.loadStateDict(tensors, { strict: false });
  return model;
}

/** Embeds the PNG and JPEG files of `folder` at `size` x `size`, `batch` images per forward. */
export async function embedFolder(
  model: VisionTransformer,
  folder: string,
  size = model.config.imageSize,
  batch = 8,
): Promise<FolderFeatures> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(folder)) {
    if (entry.isFile && /\.(png|jpe?g)$/i.test(entry.name)) names.push(entry.name);
  }
  names.sort();
  const features: Float32Array[] = [];
  const dim = model.config.embedDim;
  for (let start = 0; start < names.length; start += batch) {
    const chunk = names.slice(start, start + batch);
    const input = new Float32Array(chunk.length * 3 * size * size);
    for (const [index, name] of chunk.entries()) {
      const rgb = await readImageFile(`${folder}/${name}`);
      const rgba = new Uint8Array(rgb.width * rgb.height * 4).fill(255);
      for (let i = 0; i < rgb.width * rgb.height; i++) {
        rgba.set(rgb.data.subarray(3 * i, 3 * i + 3), 4 * i);
      }
      input.set(
        imageToInput({ width: rgb.width, height: rgb.height, data: rgba }, size),
        index * 3 * size * size,
      );
    }
    const images = tensor(input, [chunk.length, 3, size, size]);
    const output = noGrad(() => model.forward(images));
    const [cls] = await readAll([output.cls]);
    for (const t of [images, output.cls, output.patches]) t.dispose();
    for (let i = 0; i < chunk.length; i++) {
      features.push(cls.slice(i * dim, (i + 1) * dim) as Float32Array);
    }
  }
  return { names, features };
}

if (import.meta.main) {
  const [folder, checkpoint] = Deno.args.filter((arg, i, all) =>
    !arg.startsWith("--") && all[i - 1] !== "--heads"
  );
  const headsAt = Deno.args.indexOf("--heads");
  if (!folder) {
    console.error("usage: embed_folder.ts FOLDER [CHECKPOINT.safetensors] [--heads N]");
    Deno.exit(2);
  }
  const gpu = await initGpu();
  const model = await loadModel(
    checkpoint,
    headsAt >= 0 ? Number(Deno.args[headsAt + 1]) : undefined,
  );
  const start = performance.now();
  const { names, features } = await embedFolder(model, folder);
  const seconds = (performance.now() - start) / 1000;
  console.log(`adapter ${gpu.description}`);
  console.log(
    `model   ViT dim ${model.config.embedDim}, depth ${model.config.depth}, patch ${model.config.patchSize}, input ${model.config.imageSize}`,
  );
  console.log(`features [${names.length}, ${model.config.embedDim}] in ${seconds.toFixed(2)} s`);
  for (const [index, name] of names.entries()) {
    const head = [...features[index].subarray(0, 4)].map((value) => value.toFixed(4)).join(", ");
    console.log(`  ${name.padEnd(24)} cls[0:4] ${head}`);
  }
  model.dispose();
}
