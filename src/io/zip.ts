/**
 * A zip archive reader sufficient for `torch.save` archives: the central directory (ZIP64 when
 * present), stored entries (read without copying) and deflated entries (through
 * DecompressionStream), with CRC-32 checks and errors for truncated or corrupt archives.
 * @module
 */
import { CheckpointError } from "./safetensors.ts";

/** One file in a zip archive. */
export interface ZipEntry {
  /** Path inside the archive. */
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  /** CRC-32 of the uncompressed bytes. */
  crc32: number;
  /** Size of the bytes as stored. */
  compressedSize: number;
  /** Size once uncompressed. */
  size: number;
  /** Offset of the entry's local header in the archive. */
  localHeaderOffset: number;
}

/** A zip archive parsed from its central directory. */
export interface ZipArchive {
  /** The archive's bytes. */
  bytes: Uint8Array;
  /** Entries by name, in central directory order. */
  entries: Map<string, ZipEntry>;
}

const END_OF_DIRECTORY = 0x06054b50;
const ZIP64_END_OF_DIRECTORY = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const CENTRAL_HEADER = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;

function fail(message: string): never {
  throw new CheckpointError(`zip: ${message}`);
}

function safeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${value} is too large`);
  return Number(value);
}

/** Parses a zip archive's central directory; entry bytes are read with `readEntry`. */
export function readZip(bytes: Uint8Array): ZipArchive {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = bytes.length;
  if (length < 22) fail(`file too short for a zip archive (${length} bytes)`);
  let end = -1;
  for (let at = length - 22; at >= Math.max(0, length - 22 - 0xffff); at--) {
    if (
      view.getUint32(at, true) === END_OF_DIRECTORY &&
      at + 22 + view.getUint16(at + 20, true) === length
    ) {
      end = at;
      break;
    }
  }
  if (end < 0) {
    fail("end of central directory record not found (truncated file or not a zip archive)");
  }
  let count = view.getUint16(end + 10, true);
  let directorySize = view.getUint32(end + 12, true);
  let directoryOffset = view.getUint32(end + 16, true);
  const locator = end - 20;
  if (locator >= 0 && view.getUint32(locator, true) === ZIP64_LOCATOR) {
    const zip64End = safeNumber(view.getBigUint64(locator + 8, true), "ZIP64 record offset");
    if (zip64End + 56 > locator || view.getUint32(zip64End, true) !== ZIP64_END_OF_DIRECTORY) {
      fail(`ZIP64 end of central directory record not found at offset ${zip64End}`);
    }
    count = safeNumber(view.getBigUint64(zip64End + 32, true), "entry count");
    directorySize = safeNumber(view.getBigUint64(zip64End + 40, true), "directory size");
    directoryOffset = safeNumber(view.getBigUint64(zip64End + 48, true), "directory offset");
  }
  if (directoryOffset + directorySize > end || directoryOffset + directorySize > length) {
    fail(
      `central directory [${directoryOffset}, ${directoryOffset + directorySize}) goes beyond ` +
        `the archive (end record at ${end}; truncated or corrupt)`,
    );
  }
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder();
  let at = directoryOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > directoryOffset + directorySize || view.getUint32(at, true) !== CENTRAL_HEADER) {
      fail(`central directory entry ${i} of ${count} is corrupt (offset ${at})`);
    }
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const crc32 = view.getUint32(at + 16, true);
    let compressedSize = view.getUint32(at + 20, true);
    let size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    let localHeaderOffset = view.getUint32(at + 42, true);
    const nameEnd = at + 46 + nameLength;
    if (nameEnd + extraLength + commentLength > directoryOffset + directorySize) {
      fail(`central directory entry ${i} of ${count} runs past the directory`);
    }
    const name = decoder.decode(bytes.subarray(at + 46, nameEnd));
    if (flags & 1) fail(`entry "${name}" is encrypted`);
    let extra = nameEnd;
    while (extra + 4 <= nameEnd + extraLength) {
      const id = view.getUint16(extra, true);
      const dataSize = view.getUint16(extra + 2, true);
      if (id === 1) {
        let field = extra + 4;
        const take = (what: string) => {
          if (field + 8 > extra + 4 + dataSize) {
            fail(`entry "${name}": ZIP64 field lacks the ${what}`);
          }
          const value = safeNumber(view.getBigUint64(field, true), what);
          field += 8;
          return value;
        };
        if (size === 0xffffffff) size = take("size");
        if (compressedSize === 0xffffffff) compressedSize = take("compressed size");
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take("header offset");
      }
      extra += 4 + dataSize;
    }
    entries.set(name, { name, method, crc32, compressedSize, size, localHeaderOffset });
    at = nameEnd + extraLength + commentLength;
  }
  return { bytes, entries };
}

function locate(archive: ZipArchive, entry: ZipEntry): Uint8Array {
  const { bytes } = archive;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = entry.localHeaderOffset;
  if (at + 30 > bytes.length || view.getUint32(at, true) !== LOCAL_HEADER) {
    fail(`entry "${entry.name}": local header missing at offset ${at} (corrupt archive)`);
  }
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  if (start + entry.compressedSize > bytes.length) {
    fail(
      `entry "${entry.name}": data [${start}, ${start + entry.compressedSize}) goes beyond the ` +
        `archive (${bytes.length} bytes; truncated)`,
    );
  }
  return bytes.subarray(start, start + entry.compressedSize);
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (the zip and PNG polynomial) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function checked(entry: ZipEntry, data: Uint8Array, verify: boolean): Uint8Array {
  if (data.length !== entry.size) {
    fail(`entry "${entry.name}": ${data.length} bytes, the directory says ${entry.size}`);
  }
  if (verify) {
    const actual = crc32(data);
    if (actual !== entry.crc32) {
      fail(
        `entry "${entry.name}": CRC-32 ${actual.toString(16)} differs from the directory's ` +
          `${entry.crc32.toString(16)} (corrupt archive)`,
      );
    }
  }
  return data;
}

/** A stored entry's bytes without copying (throws for compressed entries); checks the CRC-32. */
export function readEntrySync(archive: ZipArchive, name: string, verify = true): Uint8Array {
  const entry = getEntry(archive, name);
  if (entry.method !== 0) fail(`entry "${name}" is compressed (method ${entry.method})`);
  return checked(entry, locate(archive, entry), verify);
}

/** An entry's bytes: stored entries without copying, deflated ones decompressed; checks the CRC-32. */
export async function readEntry(
  archive: ZipArchive,
  name: string,
  verify = true,
): Promise<Uint8Array> {
  const entry = getEntry(archive, name);
  const raw = locate(archive, entry);
  if (entry.method === 0) return checked(entry, raw, verify);
  if (entry.method !== 8) fail(`entry "${name}": unsupported compression method ${entry.method}`);
  let data: Uint8Array;
  try {
    const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new DecompressionStream("deflate-raw"),
    );
    data = new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (error) {
    fail(`entry "${name}": cannot inflate: ${(error as Error).message}`);
  }
  return checked(entry, data, verify);
}

function getEntry(archive: ZipArchive, name: string): ZipEntry {
  const entry = archive.entries.get(name);
  if (!entry) fail(`entry "${name}" not found`);
  return entry;
}
