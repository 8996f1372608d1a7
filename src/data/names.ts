/**
 * Training on the images a `curate` step picked: its lists (dedup's kept.txt, cluster's
 * sampled.txt, retrieve's retrieved.txt) name rows of a data spec's splits as `train/N` and
 * `test/N` (cli/commands/curate_shared.ts, `splitRows`). These turn such a list back into the
 * rows of the train split.
 * @module
 */
import { type Dataset, subset } from "./dataset.ts";
import { DataSpecError } from "./spec.ts";
import { IndexedImages } from "./stream/image_index.ts";

/**
 * The train rows the list `text` (read from `file`, named in errors) names, in its order: one
 * `train/N` a line, blank lines ignored. A `test/N` line, another form, an index outside
 * [0, `trainLength`) or a row named twice is a DataSpecError naming the line.
 */
export function trainRowsOfNames(text: string, trainLength: number, file: string): Int32Array {
  const rows: number[] = [];
  const seen = new Set<number>();
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "") continue;
    const match = /^train\/(\d+)$/.exec(line);
    const row = match ? Number(match[1]) : -1;
    const problem = !match
      ? "is not train/N (a row of the train split, as curate names them)"
      : row >= trainLength
      ? `is past the train split's ${trainLength} images`
      : seen.has(row)
      ? "names a row already named"
      : undefined;
    if (problem) throw new DataSpecError(`${file} line ${index + 1}: "${line}" ${problem}`);
    seen.add(row);
    rows.push(row);
  }
  if (rows.length === 0) throw new DataSpecError(`${file}: names no train images`);
  return Int32Array.from(rows);
}

/**
 * The images of `train` the list file `file` names (`trainRowsOfNames`); a streamed source stays
 * streamed.
 */
export async function trainSubsetOf(train: Dataset, file: string): Promise<Dataset> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new DataSpecError(`${file}: cannot read: ${(error as Error).message}`);
  }
  const rows = trainRowsOfNames(text, train.length, file);
  return train instanceof IndexedImages ? train.subset(rows) : subset(train, rows);
}
