/**
 * The example page: drop or pick an image and a ViT's weights (every format dinogpu reads from
 * bytes: src/io/pretrained/bytes.ts), run the model on this page's WebGPU device, and show the
 * image with the last block's CLS attention (a head or the mean), the DINOv2-style PCA of the
 * patch features, and the cosine similarity of every patch to a clicked one (views.ts, render.ts).
 * The sample model and image next to the page load at start, so it works offline.
 *
 * Bundled by `deno task bundle` into main.js, which imports the library from ./dinogpu.js. Tests
 * drive it like a person (file inputs, clicks) and read its state through `globalThis.dinogpuPage`.
 * @module
 */
/// <reference lib="dom" />
import {
  gpu,
  initGpu,
  inputSizeFor,
  modelFromWeights,
  parseConfigJson,
  readWeights,
  runVitOnImage,
  VisionTransformer,
} from "../../src/browser.ts";
import {
  decodeImage,
  fetchBytes,
  fileRole,
  formatBytes,
  type Progress,
  readFile,
} from "./files.ts";
import { hideError, PageError, reason, say, showError } from "./messages.ts";
import { $, describeModel, fillHeadSelects, render, type ViewState } from "./render.ts";
import { cosineSimilarities, firstComponent, patchAt, pcaColours } from "./views.ts";

/** Everything the page knows. */
const page: ViewState & {
  adapter: string;
  weightsSource?: { name: string; load: (progress: Progress) => Promise<Uint8Array> };
  config?: { name: string; value: Record<string, unknown>; used: boolean };
  error?: string;
  milliseconds?: number;
} = { adapter: "", selected: -1, opacity: 0.6, head: "mean", threshold: 0.35, swap: false };

/** Lets the browser paint the status before a long synchronous step. */
const paint = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Tasks run one after the other; a failure is shown and the queue goes on. */
let queue: Promise<void> = Promise.resolve();
function enqueue(task: () => Promise<void>): Promise<void> {
  queue = queue.then(async () => {
    await ready; // files given before WebGPU is up wait for it (or fail with its message)
    page.error = undefined;
    hideError();
    await task();
  }).catch((error) => {
    page.error = showError(error);
  });
  return queue;
}

async function loadWeights(): Promise<void> {
  const source = page.weightsSource;
  if (!source) return;
  const { name } = source;
  let bytes: Uint8Array;
  try {
    bytes = await source.load((loaded, total) =>
      say(
        `Reading ${name}: ${formatBytes(loaded)}${total ? ` of ${formatBytes(total)}` : ""}`,
        total ? loaded / total : undefined,
      )
    );
  } catch (error) {
    throw new PageError(`Could not read the weights file “${name}”`, reason(error, name));
  }
  say(`Parsing ${name} (${formatBytes(bytes.length)})…`);
  await paint();
  page.model?.model.dispose();
  page.model = page.weights = page.result = undefined;
  try {
    page.weights = await readWeights(bytes, { name, config: page.config?.value });
  } catch (error) {
    throw new PageError(`Could not read the weights in “${name}”`, reason(error, name));
  }
  if (page.config) page.config.used = true;
  fillHeadSelects(page);
  await buildModel();
}

async function buildModel(): Promise<void> {
  const weights = page.weights;
  if (!weights) return;
  const name = weights.name;
  if (weights.arch === "mixer") {
    throw new PageError(
      `“${name}” holds an MLP-Mixer`,
      "this page shows a ViT's attention, features and similarities; load a DINO, DINOv2 or " +
        "DINOv3 ViT (the command line reads Mixers: dinogpu embed, dinogpu pca)",
    );
  }
  say(`Uploading the weights of ${name} to the GPU…`);
  await paint();
  page.model?.model.dispose();
  page.model = page.result = undefined;
  const chosen = $<HTMLSelectElement>("heads").value;
  try {
    page.model = modelFromWeights(weights, { heads: chosen ? Number(chosen) : undefined });
  } catch (error) {
    throw new PageError(`Could not build the model of “${name}”`, reason(error, name));
  }
  await runModel();
}

async function runModel(): Promise<void> {
  const loaded = page.model;
  const image = page.image;
  if (!loaded || !image || !(loaded.model instanceof VisionTransformer)) {
    say(loaded ? "Weights loaded: now drop or pick an image." : "Image ready: now the weights.", 1);
    describeModel(page, $("model-info"));
    return;
  }
  const model = loaded.model;
  const longSide = Number($<HTMLSelectElement>("size").value);
  const size = inputSizeFor(image.rgba.width, image.rgba.height, longSide, model.config.patchSize);
  say(`Running the model on ${size.width}x${size.height} pixels…`);
  await paint();
  const start = performance.now();
  let result;
  try {
    result = await runVitOnImage(model, image.rgba, size);
  } catch (error) {
    throw new PageError(
      `Could not run the model of “${loaded.file}” on “${image.name}”`,
      reason(
        error,
        loaded.file,
      ),
    );
  }
  page.milliseconds = performance.now() - start;
  const sameGrid = page.result?.gridH === result.gridH && page.result?.gridW === result.gridW;
  page.result = result;
  page.first = firstComponent(result.patches, result.dim);
  page.pca = undefined;
  if (!sameGrid || page.selected < 0) {
    page.selected = Math.floor(result.gridH / 2) * result.gridW + Math.floor(result.gridW / 2);
  }
  page.similarity = cosineSimilarities(result.patches, result.dim, page.selected);
  fillHeadSelects(page);
  say(
    `Done: ${result.gridW}x${result.gridH} patches in ${page.milliseconds.toFixed(0)} ms.`,
    1,
  );
  describeModel(page, $("model-info"));
  redraw();
}

/** Draws the three views from what is computed (PCA again when its settings changed). */
function redraw(): void {
  const result = page.result;
  if (!result || !page.first) return;
  page.pca ??= pcaColours(result.patches, result.dim, page.first, page.threshold, page.swap);
  render(page);
}

function selectPatch(index: number): void {
  const result = page.result;
  if (!result || index < 0 || index >= result.gridH * result.gridW) return;
  page.selected = index;
  page.similarity = cosineSimilarities(result.patches, result.dim, index);
  redraw();
}

/** Files from a drop or a picker: an image, weights, and a config.json. */
function takeFiles(files: File[]): Promise<void> {
  filesGiven ||= files.length > 0;
  const images = files.filter((file) => fileRole(file) === "image");
  const configs = files.filter((file) => fileRole(file) === "config");
  const weights = files.filter((file) => fileRole(file) === "weights");
  return enqueue(async () => {
    if (weights.length > 1 || configs.length > 1 || images.length > 1) {
      throw new PageError(
        "Too many files at once",
        `give one image, one weights file and at most one config.json (got ${
          files.map((file) => file.name).join(", ")
        })`,
      );
    }
    if (configs.length) {
      const [file] = configs;
      try {
        page.config = { name: file.name, value: parseConfigJson(await file.text()), used: false };
      } catch (error) {
        throw new PageError(`Could not read “${file.name}”`, reason(error, "config.json"));
      }
    }
    if (images.length) {
      const [file] = images;
      say(`Decoding ${file.name}…`);
      try {
        page.image = await decodeImage(file.name, file);
      } catch (error) {
        throw new PageError(`Could not open the image “${file.name}”`, reason(error, file.name));
      }
    }
    if (weights.length) {
      const [file] = weights;
      if (!configs.length && page.config?.used) page.config = undefined;
      page.weightsSource = { name: file.name, load: (report) => readFile(file, report) };
      await loadWeights();
    } else if (configs.length && page.weightsSource) {
      await loadWeights();
    } else {
      await runModel();
    }
  });
}

function loadSample(): Promise<void> {
  return enqueue(async () => {
    page.config = undefined;
    say("Fetching the sample image…");
    const image = await fetchBytes("sample.png", () => {});
    page.image = await decodeImage("sample.png", new Blob([image as BlobPart]));
    page.weightsSource = {
      name: "sample.safetensors",
      load: (report) => fetchBytes("sample.safetensors", report),
    };
    await loadWeights();
  });
}

function wire(): void {
  const drop = $("drop");
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  document.addEventListener("dragleave", () => drop.classList.remove("over"));
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    void takeFiles([...(event.dataTransfer?.files ?? [])]);
  });
  for (const id of ["image-file", "weights-file"]) {
    const input = $<HTMLInputElement>(id);
    input.addEventListener("change", () => void takeFiles([...(input.files ?? [])]));
  }
  $("sample").addEventListener("click", () => void loadSample());
  $("size").addEventListener("change", () => void enqueue(runModel));
  $("heads").addEventListener("change", () => void enqueue(buildModel));
  const opacity = $<HTMLInputElement>("opacity");
  opacity.addEventListener("input", () => {
    page.opacity = Number(opacity.value);
    $("opacity-value").textContent = page.opacity.toFixed(2);
    redraw();
  });
  const head = $<HTMLSelectElement>("head");
  head.addEventListener("change", () => {
    page.head = head.value === "mean" ? "mean" : Number(head.value);
    redraw();
  });
  const threshold = $<HTMLInputElement>("threshold");
  threshold.addEventListener("input", () => {
    page.threshold = Number(threshold.value);
    $("threshold-value").textContent = page.threshold.toFixed(2);
    page.pca = undefined;
    redraw();
  });
  const swap = $<HTMLInputElement>("swap");
  swap.addEventListener("change", () => {
    page.swap = swap.checked;
    page.pca = undefined;
    redraw();
  });
  for (const id of ["attention-canvas", "pca-canvas", "similarity-canvas"]) {
    const canvas = $<HTMLCanvasElement>(id);
    canvas.addEventListener("click", (event) => {
      if (!page.result) return;
      const { gridH, gridW } = page.result;
      selectPatch(patchAt(canvas, event.offsetX, event.offsetY, gridH, gridW));
      $("similarity-canvas").focus();
    });
  }
  $("similarity-canvas").addEventListener("keydown", (event) => {
    const result = page.result;
    const moves: Record<string, [number, number]> = {
      ArrowLeft: [0, -1],
      ArrowRight: [0, 1],
      ArrowUp: [-1, 0],
      ArrowDown: [1, 0],
    };
    if (!result || !(event.key in moves)) return;
    event.preventDefault();
    const [dy, dx] = moves[event.key];
    const row = Math.min(
      result.gridH - 1,
      Math.max(0, Math.floor(page.selected / result.gridW) + dy),
    );
    const column = Math.min(result.gridW - 1, Math.max(0, (page.selected % result.gridW) + dx));
    selectPatch(row * result.gridW + column);
  });
}

/** Whether the person gave files (then the sample does not load at start). */
let filesGiven = false;
wire();
const ready = initGpu().then(
  (device) => {
    page.adapter = device.description;
    say(`WebGPU adapter: ${device.description}`, 0);
    return device.description;
  },
  (error) => {
    throw new PageError("WebGPU is not available in this browser", (error as Error).message);
  },
);
void ready.then(
  () => filesGiven ? undefined : loadSample(),
  (error) => (page.error = showError(error)),
);

/** What tests read of the page (plain values, so Playwright can pass them out). */
function report() {
  const { result, model } = page;
  return {
    adapter: page.adapter || gpu().description,
    status: $("status").textContent,
    error: page.error ?? null,
    model: model && page.weights
      ? {
        name: model.file,
        layout: model.layout,
        heads: model.heads,
        config: (model.model as VisionTransformer).config,
      }
      : null,
    image: page.image ? page.image.name : null,
    gridH: result?.gridH ?? 0,
    gridW: result?.gridW ?? 0,
    heads: result?.heads ?? 0,
    dim: result?.dim ?? 0,
    cls: result ? [...result.cls] : [],
    attention: result ? [...result.attention] : [],
    selected: page.selected,
    similarity: page.similarity ? [...page.similarity] : [],
    pca: page.pca ? [...page.pca.colours] : [],
    milliseconds: page.milliseconds ?? 0,
  };
}

/** What `globalThis.dinogpuPage.report()` returns. */
export type PageReport = ReturnType<typeof report>;

(globalThis as Record<string, unknown>).dinogpuPage = {
  ready,
  /** Resolves when every queued task (loading, running) is done. */
  idle: async () => {
    await ready.catch(() => {});
    let current;
    do {
      current = queue;
      await current;
    } while (current !== queue);
  },
  report,
};
