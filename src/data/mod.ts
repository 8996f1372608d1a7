/**
 * Data sources: the `Dataset` interface, IDX (MNIST, Fashion-MNIST), generated shapes and
 * textures, image folders, and the batch loader.
 * @module
 */
export * from "./dataset.ts";
export * from "./idx.ts";
export * from "./synthetic.ts";
export * from "./textures.ts";
export * from "./image_folder.ts";
export * from "./loader.ts";
export * from "./augment.ts";
export * from "./multi_crop.ts";
export * from "./augment_params.ts";
export * from "./spec.ts";
