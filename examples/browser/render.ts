/**
 * The page's drawing: the three views on their canvases (views.ts computes what they show), their
 * legends, the head selectors and the line describing the model.
 * @module
 */
/// <reference lib="dom" />
import {
  assumedHeads,
  type VitImageResult,
  type WeightsContents,
  type WeightsModel,
} from "../../src/browser.ts";
import type { DecodedImage } from "./files.ts";
import { attentionMap, drawView, type PcaColours, rgbPixels, viridisPixels } from "./views.ts";

/** What the views are drawn from. */
export interface ViewState {
  /** The image. */
  image?: DecodedImage;
  /** The weights read. */
  weights?: WeightsContents;
  /** The model built from them. */
  model?: WeightsModel;
  /** The model's output on the image. */
  result?: VitImageResult;
  /** The normalised first principal component of the patch features. */
  first?: Float64Array;
  /** The PCA colours for the current threshold and side. */
  pca?: PcaColours;
  /** The chosen patch (row-major), -1 before any. */
  selected: number;
  /** Cosine similarity of every patch to the chosen one. */
  similarity?: Float64Array;
  /** Overlay opacity, 0..1. */
  opacity: number;
  /** The attention head shown, or the mean. */
  head: number | "mean";
  /** The PCA background threshold on the normalised first component. */
  threshold: number;
  /** Whether the foreground is below the threshold rather than above. */
  swap: boolean;
}

/** The element with id `id` (it exists: the page is static). */
export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

const LAYOUTS: Record<string, string> = {
  dino: "DINO (official names)",
  dinov2: "DINOv2 (official names)",
  dinov3: "DINOv3 (official names)",
  "timm-vit": "timm ViT",
  "hf-vit": "Hugging Face ViTModel",
  "hf-dinov2": "Hugging Face Dinov2Model",
  "hf-dinov3": "Hugging Face DINOv3ViTModel",
  dinogpu: "dinogpu weight file",
  "timm-mixer": "timm MLP-Mixer",
};

/** Writes the line describing the model, its input and the run into `element`. */
export function describeModel(state: ViewState, element: HTMLElement): void {
  const { model, weights, result } = state;
  if (!model || !weights) {
    element.textContent = state.image ? `Image: ${state.image.name}.` : "";
    return;
  }
  const config = "config" in model.model ? model.model.config : undefined;
  if (!config || !("heads" in config)) return;
  const tokens = config.positionEmbedding === "rope" ? "storage tokens" : "registers";
  const heads = {
    option: "chosen under Heads",
    "width / 64": "not stored in the file: assumed width / 64",
    guess: "not stored in the file, and the width is no multiple of 64: assumed the most heads " +
      "of at least 16 channels; change under Heads",
    "dinogpu file": "from the file",
    "config.json": "from config.json",
    "RoPE periods": "from the stored RoPE periods",
  }[model.heads.source];
  const parts = [
    `${weights.name}: ${LAYOUTS[model.layout] ?? model.layout}, ${weights.format}`,
    `width ${config.embedDim}, depth ${config.depth}, ${config.heads} heads (${heads})`,
    `patch ${config.patchSize}, ${config.registers} ${tokens}`,
  ];
  if (result && state.image) {
    parts.push(
      `${state.image.name} at ${result.gridW * config.patchSize}x${
        result.gridH * config.patchSize
      } px = ${result.gridW}x${result.gridH} patches`,
    );
  }
  element.textContent = parts.join("; ") + ".";
}

function option(value: string, text: string): HTMLOptionElement {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  return element;
}

/**
 * Fills the model's heads selector (the file's count or the assumed one first, then every count
 * that divides the width) and the attention view's head selector (mean, then each head).
 */
export function fillHeadSelects(state: ViewState): void {
  const { weights } = state;
  const heads = document.getElementById("heads") as HTMLSelectElement;
  const key = weights ? `${weights.name}/${weights.width}/${weights.heads?.count}` : "";
  if (heads.dataset.key !== key) {
    heads.dataset.key = key;
    heads.replaceChildren();
    if (weights) {
      const stored = weights.heads;
      heads.append(
        option(
          "",
          stored
            ? `from the file (${stored.count})`
            : `assumed (${assumedHeads(weights.width).count})`,
        ),
      );
      for (let count = 1; count <= weights.width; count++) {
        if (weights.width % count === 0) heads.append(option(String(count), String(count)));
      }
    } else heads.append(option("", "from the file"));
    heads.disabled = !weights || weights.layout === "dinogpu";
  }
  const count = state.result?.heads ?? 0;
  const head = document.getElementById("head") as HTMLSelectElement;
  if (head.options.length !== count + 1) {
    head.replaceChildren(option("mean", "mean of the heads"));
    for (let h = 0; h < count; h++) head.append(option(String(h), `head ${h}`));
    state.head = "mean";
  }
}

/** Sizes `canvas` to the input's aspect, its longer side 384 pixels. */
function fit(canvas: HTMLCanvasElement, gridW: number, gridH: number): void {
  const scale = 384 / Math.max(gridW, gridH);
  const width = Math.round(gridW * scale);
  const height = Math.round(gridH * scale);
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
}

/** Draws the three views and their legends. */
export function render(state: ViewState): void {
  const { result, image, pca, similarity } = state;
  if (!result || !image || !pca || !similarity) return;
  const { gridH, gridW } = result;
  const canvases = ["attention-canvas", "pca-canvas", "similarity-canvas"].map((id) =>
    document.getElementById(id) as HTMLCanvasElement
  );
  for (const canvas of canvases) fit(canvas, gridW, gridH);
  const [attentionCanvas, pcaCanvas, similarityCanvas] = canvases;
  const common = { image: image.bitmap, gridH, gridW, opacity: state.opacity };

  const map = attentionMap(result.attention, result.heads, state.head);
  const attention = viridisPixels(map);
  drawView(attentionCanvas, { ...common, overlay: attention.pixels });
  const which = state.head === "mean" ? "mean of the heads" : `head ${state.head}`;
  attentionCanvas.setAttribute("aria-label", `CLS attention (${which}) over the image`);
  (document.getElementById("attention-legend") as HTMLElement).textContent = `viridis: ${
    attention.range[0].toExponential(2)
  } (dark) to ${attention.range[1].toExponential(2)} (yellow) of the CLS token's attention.`;

  drawView(pcaCanvas, { ...common, overlay: rgbPixels(pca.colours) });
  const kept = pca.foreground.reduce((sum, value) => sum + value, 0);
  (document.getElementById("pca-legend") as HTMLElement).textContent =
    `${kept} of ${gridH * gridW} patches foreground; components 1-3 as red, green, blue; ` +
    "background black.";

  const colours = viridisPixels(similarity);
  drawView(similarityCanvas, { ...common, overlay: colours.pixels, marker: state.selected });
  const row = Math.floor(state.selected / gridW);
  const column = state.selected % gridW;
  similarityCanvas.setAttribute(
    "aria-label",
    `Cosine similarity to the patch in row ${row + 1}, column ${column + 1}; click a patch or ` +
      "use the arrow keys",
  );
  (document.getElementById("similarity-legend") as HTMLElement).textContent = `Patch row ${
    row + 1
  }, column ${column + 1}: cosine similarity from ${colours.range[0].toFixed(3)} (dark) to ${
    colours.range[1].toFixed(3)
  } (yellow).`;
}
