/**
 * Attention maps as DINO's `visualize_attention.py`: the last block's attention of the CLS token
 * to the patch tokens per head (register tokens skipped), the mask keeping the patches that hold
 * `keep` of the attention mass, and heat-map rendering (viridis, min-max normalised as
 * `plt.imsave`, nearest or bilinear upsampling, optionally blended over the image).
 * @module
 */
import { encodePng } from "../io/image.ts";
import type { VisionTransformer } from "../nn/vit.ts";
import { ShapeError } from "../gpu/errors.ts";
import { reshape, slice } from "../ops/shape/forward.ts";
import { noGrad } from "../tensor/tape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { VIRIDIS } from "./colormap.ts";

/** CLS-to-patch attention of the last block. */
export interface AttentionMaps {
  /** Probabilities [batch, heads, gridH, gridW] (softmax values, registers excluded). */
  maps: Float32Array;
  /** Images. */
  batch: number;
  /** Heads. */
  heads: number;
  /** Patch grid height. */
  gridH: number;
  /** Patch grid width. */
  gridW: number;
}

/** Reads the last block's CLS-to-patch attention of `images` [B, C, H, W] (one readback). */
export async function clsAttentionMaps(
  vit: VisionTransformer,
  images: Tensor,
): Promise<AttentionMaps> {
  const patch = vit.config.patchSize;
  const gridH = Math.floor(images.shape[2] / patch);
  const gridW = Math.floor(images.shape[3] / patch);
  const row = noGrad(() => {
    const probabilities = vit.lastSelfAttention(images);
    const [batch, heads, tokens] = probabilities.shape;
    const flat = reshape(probabilities, [batch * heads, tokens, tokens]);
    const cls = slice(flat, 1, 0, 1);
    const patches = slice(cls, 2, 1 + vit.config.registers, tokens);
    for (const t of [probabilities, flat, cls]) t.dispose();
    return { patches, batch, heads };
  });
  if (row.patches.size !== row.batch * row.heads * gridH * gridW) {
    row.patches.dispose();
    throw new ShapeError(
      `clsAttentionMaps: ${row.patches.size / (row.batch * row.heads)} patch tokens for a ` +
        `${gridH}x${gridW} grid`,
    );
  }
  const maps = await row.patches.read() as Float32Array;
  row.patches.dispose();
  return { maps, batch: row.batch, heads: row.heads, gridH, gridW };
}

/**
 * The patches holding `keep` of the mass of `map` (DINO's threshold): sorted ascending and
 * normalised, a patch is kept where the cumulative sum up to it exceeds `1 - keep`. 1 = kept.
 */
export function attentionMask(map: ArrayLike<number>, keep = 0.6): Uint8Array {
  if (!(keep >= 0 && keep <= 1)) {
    throw new RangeError(`attentionMask: keep must be in [0, 1], got ${keep}`);
  }
  const order = Array.from({ length: map.length }, (_, i) => i).sort((a, b) =>
    map[a] - map[b] || a - b
  );
  let total = 0;
  for (let i = 0; i < map.length; i++) total += map[i];
  const mask = new Uint8Array(map.length);
  let cumulative = 0;
  for (const index of order) {
    cumulative += map[index] / total;
    if (cumulative > 1 - keep) mask[index] = 1;
  }
  return mask;
}

/** Options of `renderHeatmap`. */
export interface HeatmapOptions {
  /** Upsampling of the grid (default nearest, as DINO). */
  interpolation?: "nearest" | "bilinear";
  /** RGB image [outH, outW, 3] to blend under the heat map. */
  image?: Uint8Array;
  /** Weight of the heat map when blending (default 0.5). */
  alpha?: number;
  /** Value range mapped to the colour map (default the map's min and max). */
  range?: [number, number];
}

/**
 * Renders a [gridH, gridW] map as RGB bytes [outH, outW, 3] with viridis, min-max normalised,
 * upsampled, and optionally blended over `image`.
 */
export function renderHeatmap(
  map: ArrayLike<number>,
  gridH: number,
  gridW: number,
  outW: number,
  outH: number,
  options: HeatmapOptions = {},
): Uint8Array {
  if (map.length !== gridH * gridW) {
    throw new ShapeError(`renderHeatmap: ${map.length} values for a ${gridH}x${gridW} grid`);
  }
  if (options.image && options.image.length !== outW * outH * 3) {
    throw new ShapeError(
      `renderHeatmap: image holds ${options.image.length} bytes, want ${outH}x${outW}x3 = ${
        outW * outH * 3
      }`,
    );
  }
  let [low, high] = options.range ?? [Infinity, -Infinity];
  if (!options.range) {
    for (let i = 0; i < map.length; i++) {
      low = Math.min(low, map[i]);
      high = Math.max(high, map[i]);
    }
  }
  const span = high > low ? high - low : 1;
  const alpha = options.alpha ?? 0.5;
  const out = new Uint8Array(outW * outH * 3);
  const at = (x: number, y: number) =>
    map[Math.min(gridH - 1, Math.max(0, y)) * gridW + Math.min(gridW - 1, Math.max(0, x))];
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      let value: number;
      if (options.interpolation === "bilinear") {
        const sy = (y + 0.5) * gridH / outH - 0.5;
        const sx = (x + 0.5) * gridW / outW - 0.5;
        const y0 = Math.floor(sy);
        const x0 = Math.floor(sx);
        const fy = sy - y0;
        const fx = sx - x0;
        value = (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) +
          fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
      } else {
        value = at(Math.floor(x * gridW / outW), Math.floor(y * gridH / outH));
      }
      const t = Math.min(1, Math.max(0, (value - low) / span));
      const index = Math.round(t * 255) * 3;
      const pixel = (y * outW + x) * 3;
      for (let c = 0; c < 3; c++) {
        const colour = VIRIDIS[index + c];
        out[pixel + c] = options.image
          ? Math.round(alpha * colour + (1 - alpha) * options.image[pixel + c])
          : colour;
      }
    }
  }
  return out;
}

/** `renderHeatmap` (the same arguments) encoded as a PNG file of outW x outH. */
export function heatmapPng(...args: Parameters<typeof renderHeatmap>): Uint8Array {
  const [, , , outW, outH] = args;
  return encodePng(renderHeatmap(...args), outW, outH);
}
