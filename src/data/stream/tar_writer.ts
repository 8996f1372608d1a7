/**
 * Writes WebDataset tar shards from an image index: each image's bytes as they are (no
 * re-encoding) as `KEY.jpg` / `KEY.png`, with `KEY.cls` holding its label number (WebDataset's
 * convention) when the index has labels. POSIX ustar, 512-byte blocks, two zero blocks at the end of each shard.
 * @module
 */
import type { ImageIndex } from "./image_index.ts";
import { readImageBytes } from "./image_index.ts";

/** Options of `writeTarShards`. */
export interface TarWriteOptions {
  /** Images per shard; default 1000. */
  perShard?: number;
  /** Called after each shard with its path and image count. */
  onShard?: (path: string, images: number) => void;
}

/** A ustar header for a regular file `name` of `size` bytes. */
function tarHeader(name: string, size: number): Uint8Array {
  const header = new Uint8Array(512);
  const encoder = new TextEncoder();
  const put = (text: string, at: number) => header.set(encoder.encode(text), at);
  put(name, 0);
  put("0000644\0", 100); // mode
  put("0000000\0", 108); // uid
  put("0000000\0", 116); // gid
  put(size.toString(8).padStart(11, "0") + "\0", 124);
  put("00000000000\0", 136); // mtime: fixed, so that shards are reproducible
  put("        ", 148); // checksum, spaces while summing
  put("0", 156);
  put("ustar\0", 257);
  put("00", 263);
  const sum = header.reduce((total, byte) => total + byte, 0);
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return header;
}

/** The file name ending an image keeps in a shard (jpg or png, from its bytes). */
function suffixOf(bytes: Uint8Array): string {
  return bytes[0] === 0x89 && bytes[1] === 0x50 ? "png" : "jpg";
}

/**
 * Writes the images of `index` into shards named by `pattern`, whose `%0Nd` (or `%d`) is the
 * shard number (e.g. `out/train-%06d.tar`). Keys are the image positions, zero-padded to six
 * digits. Unreadable files are left out and returned. Returns the shard paths and what was left.
 */
export async function writeTarShards(
  index: ImageIndex,
  pattern: string,
  options: TarWriteOptions = {},
): Promise<{ shards: string[]; skipped: { path: string; reason: string }[] }> {
  const perShard = options.perShard ?? 1000;
  if (!Number.isInteger(perShard) || perShard < 1) {
    throw new RangeError(`writeTarShards: perShard must be a whole number >= 1, got ${perShard}`);
  }
  const format = /%(0(\d+))?d/.exec(pattern);
  if (!format) {
    throw new RangeError(`writeTarShards: the pattern needs %d or %0Nd for the shard number`);
  }
  const name = (shard: number) =>
    pattern.replace(format[0], String(shard).padStart(Number(format[2] ?? 0), "0"));
  const shards: string[] = [];
  const skipped: { path: string; reason: string }[] = [];
  const zeros = new Uint8Array(1024);
  for (let start = 0; start < index.paths.length; start += perShard) {
    const path = name(shards.length);
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    let images = 0;
    try {
      const write = async (bytes: Uint8Array) => {
        let done = 0;
        while (done < bytes.length) done += await file.write(bytes.subarray(done));
      };
      const member = async (memberName: string, bytes: Uint8Array) => {
        await write(tarHeader(memberName, bytes.length));
        await write(bytes);
        const pad = (512 - bytes.length % 512) % 512;
        if (pad > 0) await write(zeros.subarray(0, pad));
      };
      for (let i = start; i < Math.min(start + perShard, index.paths.length); i++) {
        let bytes: Uint8Array;
        try {
          bytes = await readImageBytes(index.paths[i], index.offsets?.[i], index.lengths?.[i]);
        } catch (error) {
          skipped.push({ path: index.paths[i], reason: (error as Error).message });
          continue;
        }
        const key = String(i).padStart(6, "0");
        await member(`${key}.${suffixOf(bytes)}`, bytes);
        if (index.labels) {
          await member(`${key}.cls`, new TextEncoder().encode(String(index.labels[i])));
        }
        images++;
      }
      await write(zeros);
    } finally {
      file.close();
    }
    shards.push(path);
    options.onShard?.(path, images);
  }
  return { shards, skipped };
}
