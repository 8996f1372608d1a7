/**
 * The example page: loads a ViT safetensors checkpoint and an image picked by the user, runs the
 * model on this page's WebGPU device and draws the last block's CLS attention per head.
 * Bundled by `deno task bundle` into main.js, which imports the library from ./dinogpu.js.
 * It also exposes `globalThis.dinogpuDemo` so tests can drive it with URLs instead of file pickers.
 * @module
 */
/// <reference lib="dom" />
import {
  gpu,
  initGpu,
  readSafetensors,
  type RgbaImage,
  runVitOnImage,
  stateDictFromSafetensors,
  VisionTransformer,
  vitConfigFromStateDict,
  type VitImageResult,
} from "../../src/browser.ts";

/** What `runOnBytes` returns (plain arrays, so Playwright can pass them out of the page). */
export interface DemoResult {
  /** CLS features. */
  cls: number[];
  /** Attention maps [heads, grid, grid]. */
  attention: number[];
  /** Heads. */
  heads: number;
  /** Grid side. */
  grid: number;
  /** Adapter description. */
  adapter: string;
  /** Milliseconds of the model run (upload to readback). */
  milliseconds: number;
}

const status = document.getElementById("status")!;
const say = (text: string) => (status.textContent = text);

/** Decodes an image file's bytes into RGBA pixels without colour conversion. */
async function decodeImage(bytes: Blob): Promise<RgbaImage> {
  const bitmap = await createImageBitmap(bytes, {
    colorSpaceConversion: "none",
    premultiplyAlpha: "none",
  });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d")!;
  context.drawImage(bitmap, 0, 0);
  const data = context.getImageData(0, 0, bitmap.width, bitmap.height);
  return { width: data.width, height: data.height, data: data.data };
}

/** Loads the checkpoint, runs the model on the image and disposes the model. */
async function runOnBytes(
  checkpoint: Uint8Array,
  image: RgbaImage,
  size: number,
  heads?: number,
): Promise<{ result: VitImageResult; milliseconds: number }> {
  const state = stateDictFromSafetensors(readSafetensors(checkpoint));
  const model = new VisionTransformer(vitConfigFromStateDict(state, heads)).eval();
  try {
    model.loadStateDict(state, { strict: false });
    const start = performance.now();
    const result = await runVitOnImage(model, image, size);
    return { result, milliseconds: performance.now() - start };
  } finally {
    model.dispose();
  }
}

/** Draws each head's map on its own canvas, scaled to the head's own min..max. */
function drawMaps(result: VitImageResult): void {
  const container = document.getElementById("maps")!;
  container.replaceChildren();
  const { grid, heads, attention } = result;
  for (let head = 0; head < heads; head++) {
    const values = attention.subarray(head * grid * grid, (head + 1) * grid * grid);
    let low = Infinity, high = -Infinity;
    for (const value of values) (low = Math.min(low, value)), (high = Math.max(high, value));
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = grid;
    const context = canvas.getContext("2d")!;
    const pixels = context.createImageData(grid, grid);
    values.forEach((value, index) => {
      const t = high > low ? (value - low) / (high - low) : 0;
      pixels.data.set([255 * t, 255 * t * t, 255 * (1 - t) * 0.6, 255], index * 4);
    });
    context.putImageData(pixels, 0, 0);
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = `head ${head}`;
    figure.append(canvas, caption);
    container.append(figure);
  }
}

const number = (id: string) => Number((document.getElementById(id) as HTMLInputElement).value);

async function onRun(): Promise<void> {
  const checkpointFile = (document.getElementById("checkpoint") as HTMLInputElement).files?.[0];
  const imageFile = (document.getElementById("image") as HTMLInputElement).files?.[0];
  if (!checkpointFile || !imageFile) return void say("Pick a checkpoint and an image first.");
  try {
    say("Running…");
    const image = await decodeImage(imageFile);
    const checkpoint = new Uint8Array(await checkpointFile.arrayBuffer());
    const { result, milliseconds } = await runOnBytes(
      checkpoint,
      image,
      number("size"),
      number("heads"),
    );
    drawMaps(result);
    say(
      `${result.heads} heads on a ${result.grid}x${result.grid} grid, ${
        milliseconds.toFixed(0)
      } ms`,
    );
  } catch (error) {
    say(`Failed: ${(error as Error).message}`);
    throw error;
  }
}

const ready = initGpu().then(
  (device) => {
    say(`WebGPU adapter: ${device.description}`);
    (document.getElementById("run") as HTMLButtonElement).disabled = false;
    return device.description;
  },
  (error) => {
    say(`No WebGPU: ${(error as Error).message}`);
    throw error;
  },
);
document.getElementById("run")!.addEventListener("click", () => void onRun());

/** Test hook: runs a checkpoint URL on an image URL and draws the maps. */
async function runOnUrls(
  checkpointUrl: string,
  imageUrl: string,
  size: number,
  heads?: number,
): Promise<DemoResult> {
  await ready;
  const checkpoint = new Uint8Array(await (await fetch(checkpointUrl)).arrayBuffer());
  const image = await decodeImage(await (await fetch(imageUrl)).blob());
  const { result, milliseconds } = await runOnBytes(checkpoint, image, size, heads);
  drawMaps(result);
  return {
    cls: [...result.cls],
    attention: [...result.attention],
    heads: result.heads,
    grid: result.grid,
    adapter: gpu().description,
    milliseconds,
  };
}

(globalThis as Record<string, unknown>).dinogpuDemo = { ready, runOnUrls };
