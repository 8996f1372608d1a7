/**
 * Evaluation: feature extraction, weighted k-NN and linear probe (DINO's protocols), attention
 * and PCA maps, colour maps, and collapse monitors.
 * @module
 */
export * from "./features.ts";
export * from "./knn.ts";
export * from "./linear_probe.ts";
export * from "./attention_maps.ts";
export * from "./pca.ts";
export * from "./colormap.ts";
export * from "./collapse.ts";
