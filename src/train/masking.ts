/**
 * iBOT's random block masks, drawn on the CPU as DINOv2's `MaskingGenerator` and
 * `collate_data_and_mask` do: a share (`probability`) of the student's global crops get a mask whose
 * ratio is drawn from stratified slices of [minRatio, maxRatio]; each mask is grown from random
 * rectangles (area in [4, remaining], aspect ratio log-uniform in [0.3, 1 / 0.3]) until it holds
 * the target count of patches; the masks are shuffled over the crops. The generator is seeded and
 * its state goes into checkpoints.
 * @module
 */
import type { Random } from "../tensor/random.ts";

/** How masks are drawn. */
export interface MaskingConfig {
  /** Patch grid height. */
  gridHeight: number;
  /** Patch grid width. */
  gridWidth: number;
  /** Mask ratio range (DINOv2: [0.1, 0.5]). */
  ratio: [number, number];
  /** Share of the crops that get a mask (DINOv2: 0.5). */
  probability: number;
  /** Smallest rectangle drawn, in patches (DINOv2: 4). */
  minPatches?: number;
  /** Largest rectangle drawn, in patches (DINOv2: half the grid). */
  maxPatches?: number;
  /** Smallest aspect ratio (DINOv2: 0.3; the largest is its inverse). */
  minAspect?: number;
}

/** The masks of one batch of crops. */
export interface MaskBatch {
  /** One mask per crop, row-major over the grid (1 = masked). */
  masks: Uint8Array[];
  /** Masked rows as indices into [crops * patches] (i32), crop-major. */
  indices: Int32Array;
  /** Per masked row: 1 / (masked patches of its crop), DINOv2's `masks_weight`. */
  weights: Float32Array;
  /** Masked patches per crop. */
  counts: number[];
}

/** DINOv2's block-mask generator over one patch grid. */
export class BlockMaskGenerator {
  readonly #minPatches: number;
  readonly #maxPatches: number;
  readonly #logAspect: [number, number];

  /** Creates the generator for a `height` x `width` grid. */
  constructor(
    readonly height: number,
    readonly width: number,
    readonly random: Random,
    { minPatches = 4, maxPatches, minAspect = 0.3 }: {
      minPatches?: number;
      maxPatches?: number;
      minAspect?: number;
    } = {},
  ) {
    this.#minPatches = minPatches;
    this.#maxPatches = maxPatches ?? Math.floor(0.5 * height * width);
    this.#logAspect = [Math.log(minAspect), Math.log(1 / minAspect)];
  }

  /** Adds one rectangle (up to 10 tries); returns the number of patches newly masked. */
  #grow(mask: Uint8Array, maxMaskPatches: number): number {
    let delta = 0;
    for (let attempt = 0; attempt < 10; attempt++) {
      const targetArea = this.random.uniform(this.#minPatches, maxMaskPatches);
      const aspect = Math.exp(this.random.uniform(this.#logAspect[0], this.#logAspect[1]));
      const h = Math.round(Math.sqrt(targetArea * aspect));
      const w = Math.round(Math.sqrt(targetArea / aspect));
      if (w < this.width && h < this.height) {
        const top = this.random.int(this.height - h + 1);
        const left = this.random.int(this.width - w + 1);
        let already = 0;
        for (let i = top; i < top + h; i++) {
          for (let j = left; j < left + w; j++) already += mask[i * this.width + j];
        }
        const added = h * w - already;
        if (added > 0 && added <= maxMaskPatches) {
          for (let i = top; i < top + h; i++) {
            for (let j = left; j < left + w; j++) {
              if (!mask[i * this.width + j]) {
                mask[i * this.width + j] = 1;
                delta++;
              }
            }
          }
        }
        if (delta > 0) break;
      }
    }
    return delta;
  }

  /** A mask with about `count` patches masked (fewer when no rectangle fits any more). */
  draw(count: number): Uint8Array {
    const mask = new Uint8Array(this.height * this.width);
    let masked = 0;
    while (masked < count) {
      const limit = Math.min(count - masked, this.#maxPatches);
      const delta = this.#grow(mask, limit);
      if (delta === 0) break;
      masked += delta;
    }
    return mask;
  }
}

/**
 * Masks for `crops` global crops (DINOv2's collate_data_and_mask): the first
 * floor(crops * probability) get ratios from stratified slices of the ratio range, the rest none,
 * then the list is shuffled.
 */
export function drawMaskBatch(crops: number, config: MaskingConfig, random: Random): MaskBatch {
  const { gridHeight, gridWidth, ratio, probability } = config;
  const patches = gridHeight * gridWidth;
  const generator = new BlockMaskGenerator(gridHeight, gridWidth, random, {
    minPatches: config.minPatches,
    maxPatches: config.maxPatches,
    minAspect: config.minAspect,
  });
  const maskedCrops = Math.floor(crops * probability);
  const masks: Uint8Array[] = [];
  for (let i = 0; i < maskedCrops; i++) {
    const low = ratio[0] + (ratio[1] - ratio[0]) * i / maskedCrops;
    const high = ratio[0] + (ratio[1] - ratio[0]) * (i + 1) / maskedCrops;
    masks.push(generator.draw(Math.floor(patches * random.uniform(low, high))));
  }
  for (let i = maskedCrops; i < crops; i++) masks.push(new Uint8Array(patches));
  for (let i = masks.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [masks[i], masks[j]] = [masks[j], masks[i]];
  }
  const counts = masks.map((mask) => mask.reduce((sum, value) => sum + value, 0));
  const total = counts.reduce((sum, value) => sum + value, 0);
  const indices = new Int32Array(total);
  const weights = new Float32Array(total);
  let at = 0;
  masks.forEach((mask, crop) => {
    for (let p = 0; p < patches; p++) {
      if (!mask[p]) continue;
      indices[at] = crop * patches + p;
      weights[at++] = 1 / Math.max(1, counts[crop]);
    }
  });
  return { masks, indices, weights, counts };
}
