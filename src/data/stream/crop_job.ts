/**
 * The work of one image in the crop pool, shared by the pool (./crop_pool.ts) and its workers
 * (./crop_worker.ts): read or take the bytes, refuse an oversized header, decode, draw each view's
 * RandomResizedCrop box on the ORIGINAL image with torchvision's sampling, and resize the box with
 * Pillow's BICUBIC into the view's place in a shared batch buffer.
 * @module
 */
import { type CropBox, DEFAULT_RATIO, sampleResizedCrop, SeededRandom } from "../augment_params.ts";
import { resizeCropBicubic } from "../pil_resize.ts";
import { decodeFast } from "./fast_decode.ts";
import { readImageBytes } from "./image_index.ts";

/** One view to cut: output side and RandomResizedCrop's ranges. */
export interface CropView {
  /** Output side S (the crop is resized to S x S). */
  size: number;
  /** Area range as a fraction of the image. */
  scale: readonly [number, number];
  /** Aspect-ratio range; default (3/4, 4/3). */
  ratio?: readonly [number, number];
}

/** A message to a worker: crop one image into `target`. */
export interface CropJob {
  /** Identifies the job in the reply. */
  id: number;
  /** The file to read, or undefined when `bytes` are given. */
  path?: string;
  /** The encoded image, when given rather than read. */
  bytes?: Uint8Array;
  /** Byte offset of the image inside `path` (tar members); absent: the whole file. */
  offset?: number;
  /** Byte length of the image inside `path`. */
  length?: number;
  /** Seed of this image's crop draws. */
  seed: number;
  /** The views, in batch order. */
  views: readonly CropView[];
  /** The batch buffer the crops go to. */
  target: SharedArrayBuffer;
  /** Byte offset of each view's crop in `target`. */
  offsets: readonly number[];
  /** Largest image accepted, in pixels (from the header, before decoding). */
  maxPixels: number;
}

/** A worker's answer: done, or why the image was refused. */
export interface CropReply {
  /** The job's id. */
  id: number;
  /** The decoder's or file system's message when the image could not be used. */
  error?: string;
  /** The boxes drawn, one per view. */
  boxes?: CropBox[];
}

/** Runs a job on this thread (workers call it; tests and the fallback path too). */
export async function runCropJob(job: CropJob): Promise<CropReply> {
  let bytes: Uint8Array;
  try {
    bytes = job.bytes ?? await readImageBytes(job.path!, job.offset, job.length);
  } catch (error) {
    return { id: job.id, error: `cannot read: ${(error as Error).message}` };
  }
  let image;
  try {
    image = await decodeFast(bytes, job.maxPixels);
  } catch (error) {
    return { id: job.id, error: (error as Error).message };
  }
  const source = { data: image.data, width: image.width, height: image.height, channels: 3 };
  const random = new SeededRandom(job.seed);
  const boxes = job.views.map((view, v) => {
    const box = sampleResizedCrop(
      random,
      image.height,
      image.width,
      view.scale,
      view.ratio ?? DEFAULT_RATIO,
    );
    const bytesOut = view.size * view.size * 3;
    const into = new Uint8Array(job.target, job.offsets[v], bytesOut);
    resizeCropBicubic(source, box, view.size, view.size, into);
    return box;
  });
  return { id: job.id, boxes };
}
