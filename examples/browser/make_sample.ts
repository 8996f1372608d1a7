/**
 * Writes the page's sample, which it loads at start so that it works offline out of the box:
 * - `sample.png`: a 192x144 picture of textures (a dotted disc and a checkered square on diagonal
 *   stripes), drawn here without noise so that it compresses to a few kB;
 * - `sample.safetensors`: a tiny ViT (patch 16, width 24, depth 2, 2 heads) in dinogpu's weight-file
 *   format (its configuration in the metadata), weights stored as BF16: tens of kB. By default
 *   the random initialisation of seed 7; `--weights PATH` writes the backbone of any weights
 *   dinogpu reads instead (e.g. a run of `dinogpu train`), which must be about that small.
 *
 * Usage: `deno run --allow-read --allow-write --allow-env examples/browser/make_sample.ts
 * [--weights PATH] [--out DIR]` (default DIR: this folder).
 * @module
 */
import { encodePng } from "../../src/io/image.ts";
import { loadModel } from "../../src/io/pretrained/load.ts";
import { modelFileMetadata } from "../../src/io/pretrained/model_file.ts";
import { writeSafetensors } from "../../src/io/safetensors.ts";
import { initGpu } from "../../src/gpu/device.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import { type HostTensor, toFloat32 } from "../../src/tensor/host.ts";

/** The sample picture's size. */
export const SAMPLE_WIDTH = 192;
/** The sample picture's height. */
export const SAMPLE_HEIGHT = 144;

/** The sample picture as RGB bytes [height, width, 3]. */
export function samplePicture(): Uint8Array {
  const out = new Uint8Array(SAMPLE_WIDTH * SAMPLE_HEIGHT * 3);
  const mix = (a: number[], b: number[], t: number) => a.map((v, k) => v + (b[k] - v) * t);
  for (let y = 0; y < SAMPLE_HEIGHT; y++) {
    for (let x = 0; x < SAMPLE_WIDTH; x++) {
      let colour: number[];
      const disc = Math.hypot(x - 62, y - 76) < 42;
      const square = x >= 120 && x < 172 && y >= 30 && y < 82;
      if (disc) {
        const dot = Math.hypot((x % 10) - 5, (y % 10) - 5) < 3;
        colour = dot ? [250, 214, 60] : [200, 60, 40];
      } else if (square) {
        const check = (Math.floor(x / 6) + Math.floor(y / 6)) % 2 === 0;
        colour = check ? [30, 40, 60] : [230, 230, 235];
      } else {
        const stripe = ((x + y) % 16) < 8;
        colour = mix([70, 130, 190], [40, 90, 150], stripe ? 1 : 0);
        colour = mix(colour, [110, 170, 110], y / SAMPLE_HEIGHT * 0.6);
      }
      out.set(colour.map(Math.round), (y * SAMPLE_WIDTH + x) * 3);
    }
  }
  return out;
}

/** A float32 tensor as BF16 (round to nearest even), which the loaders widen back. */
function toBf16(tensor: HostTensor): HostTensor {
  const values = toFloat32(tensor);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const word = bits[i];
    out[i] = (word + 0x7fff + ((word >>> 16) & 1)) >>> 16;
  }
  return { dtype: "BF16", shape: tensor.shape, data: out };
}

/** The sample model's bytes: `model`'s weights as BF16 with its configuration as metadata. */
export async function sampleWeights(model: VisionTransformer): Promise<Uint8Array> {
  const state = await model.stateDict();
  const narrowed = new Map([...state].map(([name, value]) => [name, toBf16(value)]));
  return writeSafetensors(narrowed, modelFileMetadata(model));
}

if (import.meta.main) {
  const args = [...Deno.args];
  const option = (name: string) => {
    const index = args.indexOf(name);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const out = option("--out") ?? new URL(".", import.meta.url).pathname;
  await initGpu();
  const weights = option("--weights");
  const model = weights ? (await loadModel(weights)).model : new VisionTransformer({
    imageSize: 64,
    patchSize: 16,
    embedDim: 24,
    depth: 2,
    heads: 2,
    seed: 7,
  }).eval();
  if (!(model instanceof VisionTransformer)) throw new Error(`${weights} is not a ViT`);
  const bytes = await sampleWeights(model);
  model.dispose();
  const png = encodePng(samplePicture(), SAMPLE_WIDTH, SAMPLE_HEIGHT);
  await Deno.writeFile(`${out}/sample.safetensors`, bytes);
  await Deno.writeFile(`${out}/sample.png`, png);
  console.log(`sample.safetensors ${bytes.length} bytes, sample.png ${png.length} bytes -> ${out}`);
}
