/**
 * WebDataset tar shards (`tar:shards/train-{000000..000127}.tar`): samples are consecutive tar
 * members sharing a basename (`000042.jpg` + `000042.cls`). The shards are indexed once by their
 * headers (plus the few bytes of each `.cls`): an image is a byte range of a shard, which the
 * workers read themselves. Each epoch's order is WebDataset's (./shard_order.ts).
 * @module
 */
import { type ImageIndex, ImageSourceError } from "./image_index.ts";

/** Image member endings of a sample. */
const IMAGE_SUFFIXES = ["jpg", "jpeg", "png"];

/**
 * Expands `{000..127}` ranges (zero padding kept from the first bound) and `{a,b}` lists in a
 * shard pattern; a pattern without braces names one file.
 */
export function expandShardPattern(pattern: string): string[] {
  const match = /\{([^{}]*)\}/.exec(pattern);
  if (!match) return [pattern];
  const head = pattern.slice(0, match.index);
  const tail = pattern.slice(match.index + match[0].length);
  const range = /^(\d+)\.\.(\d+)$/.exec(match[1]);
  let parts: string[];
  if (range) {
    const [low, high] = [Number(range[1]), Number(range[2])];
    if (high < low) throw new ImageSourceError(`${pattern}: range {${match[1]}} runs backwards`);
    parts = Array.from(
      { length: high - low + 1 },
      (_, i) => String(low + i).padStart(range[1].length, "0"),
    );
  } else {
    parts = match[1].split(",");
  }
  return parts.flatMap((part) => expandShardPattern(head + part + tail));
}

function readOctal(bytes: Uint8Array, start: number, length: number): number {
  let value = 0;
  for (let i = start; i < start + length; i++) {
    const byte = bytes[i];
    if (byte === 0 || byte === 0x20) {
      if (value > 0) break;
      continue;
    }
    value = value * 8 + (byte - 0x30);
  }
  return value;
}

const TEXT = new TextDecoder();

function readName(bytes: Uint8Array, start: number, length: number): string {
  const end = bytes.subarray(start, start + length).indexOf(0);
  return TEXT.decode(bytes.subarray(start, end < 0 ? start + length : start + end));
}

/** One sample of a shard: its image's byte range and its label text, if any. */
interface ShardSample {
  key: string;
  offset: number;
  length: number;
  label?: string;
}

/**
 * Reads a file's bytes at given positions through one small window, so that a run of small
 * members (a `.cls` label and the next image's header) costs one seek and one read, not three of
 * each. Synchronous: the reads are small, and an async op costs more than the read itself.
 */
class WindowReader {
  readonly #window = new Uint8Array(2048);
  #start = 0;
  #length = 0;

  constructor(readonly file: Deno.FsFile) {}

  /** `length` bytes at `position` (fewer at the end of the file); valid until the next call. */
  bytesAt(position: number, length: number): Uint8Array {
    const end = position + length;
    if (position < this.#start || end > this.#start + this.#length) {
      if (length > this.#window.length) throw new RangeError(`window read of ${length} bytes`);
      this.file.seekSync(position, Deno.SeekMode.Start);
      let done = 0;
      while (done < this.#window.length) {
        const read = this.file.readSync(this.#window.subarray(done));
        if (read === null) break;
        done += read;
      }
      this.#start = position;
      this.#length = done;
    }
    const from = position - this.#start;
    return this.#window.subarray(from, Math.min(from + length, this.#length));
  }
}

/** Reads the headers of one tar file (and each `.cls`), grouping members into samples. */
async function scanShard(path: string): Promise<ShardSample[]> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    throw new ImageSourceError(`${path}: cannot open the shard: ${(error as Error).message}`);
  }
  const samples: ShardSample[] = [];
  const reader = new WindowReader(file);
  try {
    let at = 0;
    let current: ShardSample | undefined;
    let pendingLabel: { key: string; label: string } | undefined;
    while (true) {
      const header = reader.bytesAt(at, 512);
      // the end: a zero block (its empty name is enough to tell), or the file's end
      if (header.length < 512 || header[0] === 0) break;
      // ustar keeps long names' folders in a prefix field
      const prefix = readName(header, 257, 5) === "ustar" ? readName(header, 345, 155) : "";
      const name = prefix ? `${prefix}/${readName(header, 0, 100)}` : readName(header, 0, 100);
      const size = readOctal(header, 124, 12);
      const type = String.fromCharCode(header[156] || 0x30);
      const data = at + 512;
      at = data + Math.ceil(size / 512) * 512;
      if (type !== "0") continue;
      const base = name.slice(name.lastIndexOf("/") + 1);
      const dot = base.indexOf(".");
      if (dot < 0) continue;
      const key = name.slice(0, name.length - base.length + dot);
      const suffix = base.slice(dot + 1).toLowerCase();
      if (IMAGE_SUFFIXES.includes(suffix)) {
        current = { key, offset: data, length: size };
        if (pendingLabel?.key === key) current.label = pendingLabel.label;
        samples.push(current);
      } else if (suffix === "cls" && size < 64) {
        const label = TEXT.decode(reader.bytesAt(data, size)).trim();
        if (current?.key === key) current.label = label;
        else pendingLabel = { key, label };
      }
    }
  } finally {
    file.close();
  }
  return samples;
}

/** The index of a set of shards: `shardStarts[s]` is the first sample of shard s. */
export interface ShardIndex extends ImageIndex {
  /** Byte offset of each image inside its shard. */
  offsets: Float64Array;
  /** Byte length of each image. */
  lengths: Int32Array;
  /** First sample of each shard, and the sample count at the end. */
  shardStarts: Int32Array;
}

/**
 * Indexes the shards of `pattern` (see `expandShardPattern`). Labels come from `.cls` members
 * (all samples or none). Throws `ImageSourceError` for a missing shard or a set without images.
 */
export async function indexTarShards(pattern: string): Promise<ShardIndex> {
  const shards = expandShardPattern(pattern);
  const paths: string[] = [];
  const offsets: number[] = [];
  const lengths: number[] = [];
  const labels: (string | undefined)[] = [];
  const shardStarts = [0];
  for (const shard of shards) {
    for (const sample of await scanShard(shard)) {
      paths.push(shard);
      offsets.push(sample.offset);
      lengths.push(sample.length);
      labels.push(sample.label);
    }
    shardStarts.push(paths.length);
  }
  if (paths.length === 0) {
    throw new ImageSourceError(
      `${pattern}: no image member (.jpg, .jpeg, .png) in ${shards.length} shard(s)`,
    );
  }
  const labelled = labels.filter((label) => label !== undefined).length;
  let classNames: string[] = [];
  let labelArray: Int32Array | undefined;
  if (labelled === labels.length) {
    classNames = [...new Set(labels as string[])].sort((a, b) =>
      /^\d+$/.test(a) && /^\d+$/.test(b) ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0
    );
    const map = new Map(classNames.map((name, i) => [name, i]));
    labelArray = Int32Array.from(labels, (label) => map.get(label!)!);
  }
  return {
    paths,
    labels: labelArray,
    classNames,
    offsets: Float64Array.from(offsets),
    lengths: Int32Array.from(lengths),
    shardStarts: Int32Array.from(shardStarts),
  };
}
