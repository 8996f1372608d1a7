/**
 * The page's three views of a ViT's output, computed on the CPU from what the model returned:
 * - CLS attention of one head, or the mean of the heads;
 * - the 3-component PCA of the patch features as colours, with the background removed as in
 *   DINOv2's PCA demo: the first component, min-max normalised to [0, 1], thresholded; the three
 *   components are then fitted again on the foreground patches and the background is black
 *   (the same computation as `dinogpu pca --threshold`, `pcaImages` of src/eval/pca.ts);
 * - the cosine similarity of every patch to one patch;
 * and their drawing: the image, a patch-grid overlay upsampled without smoothing at an opacity,
 * and a marker on the chosen patch.
 * @module
 */
/// <reference lib="dom" />
import { componentColours, minMax, principalComponents, VIRIDIS } from "../../src/browser.ts";

/** The map of head `head` ([gridH * gridW] of [heads, gridH, gridW]), or the mean of the heads. */
export function attentionMap(
  attention: Float32Array,
  heads: number,
  head: number | "mean",
): Float32Array {
  const cells = attention.length / heads;
  if (head !== "mean") return attention.subarray(head * cells, (head + 1) * cells);
  const mean = new Float32Array(cells);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < cells; i++) mean[i] += attention[h * cells + i] / heads;
  }
  return mean;
}

/** Cosine similarity of every patch's features [patches, dim] to patch `index`, in float64. */
export function cosineSimilarities(
  patches: Float32Array,
  dim: number,
  index: number,
): Float64Array {
  const rows = patches.length / dim;
  const norms = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let d = 0; d < dim; d++) sum += patches[r * dim + d] ** 2;
    norms[r] = Math.sqrt(sum);
  }
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += patches[r * dim + d] * patches[index * dim + d];
    out[r] = dot / Math.max(norms[r] * norms[index], 1e-12);
  }
  return out;
}

/** The first principal component of the patch features, min-max normalised to [0, 1]. */
export function firstComponent(patches: Float32Array, dim: number): Float64Array {
  const rows = patches.length / dim;
  const first = principalComponents(patches, rows, dim, 1).projections;
  const [low, high] = minMax(first);
  return first.map((value) => (value - low) / (high - low || 1));
}

/** The PCA view: RGB per patch (black in the background) and the foreground mask. */
export interface PcaColours {
  /** RGB bytes [patches, 3]. */
  colours: Uint8Array;
  /** 1 where a patch is foreground. */
  foreground: Uint8Array;
}

/**
 * DINOv2's PCA picture: patches whose normalised first component `first` is above `threshold`
 * are the foreground (below it, with `swap`); the first three components of the foreground
 * patches' features, each min-max normalised, are their RGB; the background is black. With fewer
 * than two foreground patches every patch is kept (as `pcaImages` does).
 */
export function pcaColours(
  patches: Float32Array,
  dim: number,
  first: Float64Array,
  threshold: number,
  swap: boolean,
): PcaColours {
  const rows = patches.length / dim;
  let selected = Array.from({ length: rows }, (_, i) => i).filter((i) =>
    swap ? first[i] <= threshold : first[i] > threshold
  );
  if (selected.length < 2) selected = Array.from({ length: rows }, (_, i) => i);
  const colours = componentColours(patches, dim, selected);
  const foreground = new Uint8Array(rows);
  for (const row of selected) foreground[row] = 1;
  return { colours, foreground };
}

/** Values as RGBA through viridis, min-max normalised; returns the range used too. */
export function viridisPixels(values: ArrayLike<number>): {
  pixels: Uint8ClampedArray;
  range: [number, number];
} {
  const [low, high] = minMax(values);
  const pixels = new Uint8ClampedArray(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const t = high > low ? (values[i] - low) / (high - low) : 0;
    const at = Math.round(t * 255) * 3;
    pixels.set([VIRIDIS[at], VIRIDIS[at + 1], VIRIDIS[at + 2], 255], i * 4);
  }
  return { pixels, range: [low, high] };
}

/** RGB bytes [n, 3] as opaque RGBA. */
export function rgbPixels(colours: Uint8Array): Uint8ClampedArray {
  const pixels = new Uint8ClampedArray((colours.length / 3) * 4);
  for (let i = 0; i < colours.length / 3; i++) {
    pixels.set([colours[i * 3], colours[i * 3 + 1], colours[i * 3 + 2], 255], i * 4);
  }
  return pixels;
}

/** What `drawView` draws. */
export interface ViewPicture {
  /** The image under the overlay. */
  image: CanvasImageSource;
  /** The overlay, RGBA per patch, row-major [gridH, gridW]. */
  overlay: Uint8ClampedArray;
  /** Patch grid height. */
  gridH: number;
  /** Patch grid width. */
  gridW: number;
  /** Opacity of the overlay, 0..1. */
  opacity: number;
  /** A patch to outline (row-major index). */
  marker?: number;
}

/**
 * Draws the image scaled to the whole canvas, then the overlay upsampled to it without smoothing
 * (each patch a flat cell, as DINO draws its maps) at `opacity`, then the marker.
 */
export function drawView(canvas: HTMLCanvasElement, picture: ViewPicture): void {
  const { gridH, gridW } = picture;
  const context = canvas.getContext("2d")!;
  context.globalAlpha = 1;
  context.imageSmoothingEnabled = true;
  context.drawImage(picture.image, 0, 0, canvas.width, canvas.height);
  const grid = new OffscreenCanvas(gridW, gridH);
  const pixels = new ImageData(gridW, gridH);
  pixels.data.set(picture.overlay);
  grid.getContext("2d")!.putImageData(pixels, 0, 0);
  context.imageSmoothingEnabled = false;
  context.globalAlpha = picture.opacity;
  context.drawImage(grid, 0, 0, canvas.width, canvas.height);
  context.globalAlpha = 1;
  if (picture.marker !== undefined) {
    const cellW = canvas.width / gridW;
    const cellH = canvas.height / gridH;
    const x = (picture.marker % gridW) * cellW;
    const y = Math.floor(picture.marker / gridW) * cellH;
    context.lineWidth = 2;
    context.strokeStyle = "#000";
    context.strokeRect(x, y, cellW, cellH);
    context.strokeStyle = "#fff";
    context.strokeRect(x + 2, y + 2, cellW - 4, cellH - 4);
  }
}

/** The patch under a point of a canvas (CSS pixels from its top-left corner). */
export function patchAt(
  canvas: HTMLCanvasElement,
  x: number,
  y: number,
  gridH: number,
  gridW: number,
): number {
  const column = Math.min(gridW - 1, Math.max(0, Math.floor((x / canvas.clientWidth) * gridW)));
  const row = Math.min(gridH - 1, Math.max(0, Math.floor((y / canvas.clientHeight) * gridH)));
  return row * gridW + column;
}
