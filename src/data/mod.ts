/**
 * Data: the `Dataset` interface and its sources (IDX files such as MNIST and Fashion-MNIST,
 * generated shapes and textures, image folders, data specs such as `folder:DIR`), the batch
 * loader, DINO's multi-crop views rendered on the GPU, and Pillow's bicubic crop resize.
 *
 * @example
 * ```ts
 * import { DataLoader, initGpu, loadDataSpec, MultiCropAugmenter, smallDataMultiCrop,
 *   uploadImageBatch } from "@dinogpu/dinogpu";
 * await initGpu();
 * const { train } = await loadDataSpec("textures:256", { syntheticSize: 32 });
 * const loader = new DataLoader(train, { batchSize: 16 });
 * const batch = await loader.batch(loader.order(0).subarray(0, 16));
 * const views = new MultiCropAugmenter(smallDataMultiCrop(32, 2));
 * const crops = views.augment(uploadImageBatch(batch.images, 16, 32, 32), 16, 32, 32);
 * console.log(crops.globals.map((t) => t.shape), crops.locals.map((t) => t.shape));
 * ```
 * @module
 */
export {
  ArrayDataset,
  type Dataset,
  type GeneratedOptions,
  type ImageArrays,
  type Sample,
  type SplitOptions,
  subset,
  trainTestSplit,
} from "./dataset.ts";
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  type IdxArray,
  idxDataset,
  IdxError,
  type IdxSplit,
  type IdxSplits,
  type IdxType,
  loadFashionMnist,
  loadMnist,
  parseIdx,
  readIdxFile,
} from "./idx.ts";
export {
  SYNTHETIC_SHAPES,
  SYNTHETIC_TEXTURES,
  syntheticClassName,
  syntheticDataset,
  type SyntheticOptions,
} from "./synthetic.ts";
export { TEXTURE_CLASSES, texturesDataset, type TexturesOptions } from "./textures.ts";
export {
  IMAGE_EXTENSIONS,
  type ImageFolder,
  type ImageFolderOptions,
  loadImageFolder,
  type SkippedImage,
} from "./image_folder.ts";
export { type Batch, DataLoader, type LoaderOptions } from "./loader.ts";
export {
  type ImageIndex,
  ImageSourceError,
  IndexedImages,
  indexImageFolder,
  indexImageList,
  readImageBytes,
} from "./stream/image_index.ts";
export { StreamLoader, type StreamLoaderOptions } from "./stream/stream_loader.ts";
export { CropPool, defaultWorkerCount } from "./stream/crop_pool.ts";
export { expandShardPattern, indexTarShards, type ShardIndex } from "./stream/tar_shards.ts";
export { shardOrder } from "./stream/shard_order.ts";
export { type TarWriteOptions, writeTarShards } from "./stream/tar_writer.ts";
export { type CropJob, type CropReply, type CropView, runCropJob } from "./stream/crop_job.ts";
export {
  DATA_SPEC_FORMS,
  DataSpecError,
  type DataSpecOptions,
  loadDataSpec,
  type LoadedData,
  skippedSummary,
} from "./spec.ts";
export { augmentView, uploadImageBatch, type ViewRenderOptions } from "./augment.ts";
export {
  DINO_MULTI_CROP,
  dinoViews,
  MultiCropAugmenter,
  type MultiCropBatch,
  type MultiCropConfig,
  smallDataMultiCrop,
} from "./multi_crop.ts";
export {
  type ColorJitterParams,
  type CropBox,
  DEFAULT_RATIO,
  type ImageAugmentation,
  type Interpolation,
  type JitterOperation,
  sampleImageAugmentation,
  sampleResizedCrop,
  SeededRandom,
  type ViewConfig,
} from "./augment_params.ts";
export { IMAGENET_MEAN, IMAGENET_STD } from "./imagenet.ts";
export { type ByteImage, resizeCropBicubic } from "./pil_resize.ts";
