/**
 * Image sizes read from the header alone (JPEG start-of-frame, PNG IHDR), so that an image that
 * declares more pixels than a limit is refused before any pixel is decoded (Pillow's
 * `MAX_IMAGE_PIXELS` idea: a PNG declaring 100000 x 100000 would otherwise try a 30 GB allocation).
 * @module
 */

/** Width and height declared by an image's header. */
export interface ImageHeader {
  /** "jpeg" or "png". */
  format: "jpeg" | "png";
  /** Declared width in pixels. */
  width: number;
  /** Declared height in pixels. */
  height: number;
}

/** Start-of-frame markers (0xC0-0xCF, except DHT 0xC4, JPG 0xC8 and DAC 0xCC). */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
    marker !== 0xcc;
}

function jpegHeader(bytes: Uint8Array): ImageHeader | undefined {
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1];
    if (marker === 0xff) { // fill byte
      at++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (isStartOfFrame(marker)) {
      if (at + 9 > bytes.length) return undefined;
      const height = (bytes[at + 5] << 8) | bytes[at + 6];
      const width = (bytes[at + 7] << 8) | bytes[at + 8];
      return { format: "jpeg", width, height };
    }
    if (length < 2) return undefined;
    at += 2 + length;
  }
  return undefined;
}

function pngHeader(bytes: Uint8Array): ImageHeader | undefined {
  // signature (8), IHDR length (4), "IHDR" (4), width (4), height (4)
  if (bytes.length < 24) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (String.fromCharCode(...bytes.subarray(12, 16)) !== "IHDR") return undefined;
  return { format: "png", width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * The size a JPEG or PNG declares in its header, or `undefined` when the bytes are neither or
 * the header is cut short. Reads no pixel data.
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return jpegHeader(bytes);
  }
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e) {
    return pngHeader(bytes);
  }
  return undefined;
}
