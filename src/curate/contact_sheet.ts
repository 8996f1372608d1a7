/**
 * Contact sheets: a grid of images for a person to check (one line per near-duplicate group or
 * cluster), each image scaled into a square cell by nearest neighbour, gray grown to RGB.
 * @module
 */
import type { Sample } from "../data/dataset.ts";

/** Options of `contactSheet`. */
export interface ContactSheetOptions {
  /** Side of one cell in pixels (default 64). */
  cell?: number;
  /** Gap between cells in pixels (default 2). */
  gap?: number;
  /** Images per line at most (default 8). */
  perLine?: number;
  /** Background gray level (default 255); a line's first cell is framed in red. */
  background?: number;
}

/** An RGB image. */
export interface SheetImage {
  /** RGB pixels, row-major. */
  pixels: Uint8Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/**
 * Draws `lines` (each a list of image ids, the first framed) with `image(id)` giving the pixels:
 * one line of at most `perLine` cells per entry.
 */
export async function contactSheet(
  lines: readonly (readonly number[])[],
  image: (id: number) => Sample | Promise<Sample>,
  options: ContactSheetOptions = {},
): Promise<SheetImage> {
  const { cell = 64, gap = 2, perLine = 8, background = 255 } = options;
  const columns = Math.max(1, Math.min(perLine, Math.max(0, ...lines.map((line) => line.length))));
  const width = gap + columns * (cell + gap);
  const height = gap + Math.max(1, lines.length) * (cell + gap);
  const pixels = new Uint8Array(width * height * 3).fill(background);
  for (const [lineIndex, line] of lines.entries()) {
    for (const [column, id] of line.slice(0, columns).entries()) {
      const sample = await image(id);
      const left = gap + column * (cell + gap);
      const top = gap + lineIndex * (cell + gap);
      const scale = Math.max(sample.width, sample.height) / cell;
      for (let y = 0; y < cell; y++) {
        const sourceY = Math.floor((y + 0.5) * scale);
        if (sourceY >= sample.height) break;
        for (let x = 0; x < cell; x++) {
          const sourceX = Math.floor((x + 0.5) * scale);
          if (sourceX >= sample.width) break;
          const from = (sourceY * sample.width + sourceX) * sample.channels;
          const to = ((top + y) * width + left + x) * 3;
          for (let c = 0; c < 3; c++) {
            pixels[to + c] = sample.image[from + Math.min(c, sample.channels - 1)];
          }
        }
      }
      if (column === 0) frame(pixels, width, left, top, cell);
    }
  }
  return { pixels, width, height };
}

/** A one-pixel red frame just inside the cell at (left, top). */
function frame(pixels: Uint8Array, width: number, left: number, top: number, cell: number): void {
  const paint = (x: number, y: number) => pixels.set([220, 30, 30], (y * width + x) * 3);
  for (let i = 0; i < cell; i++) {
    paint(left + i, top);
    paint(left + i, top + cell - 1);
    paint(left, top + i);
    paint(left + cell - 1, top + i);
  }
}
