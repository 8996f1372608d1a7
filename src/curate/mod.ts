/**
 * Data curation as DINOv2 builds its data (appendix A; facebookresearch/ssl-data-curation):
 * embedding folders (sharded, resumable, split over processes and merged), exact GPU k-NN search, near-duplicate removal with
 * union-find and test-set decontamination, GPU k-means, hierarchical k-means with resampling and
 * balanced sampling, retrieval, contact sheets.
 * @module
 */
export * from "./knn_search.ts";
export * from "./union_find.ts";
export * from "./dedup.ts";
export * from "./embeddings.ts";
export * from "./contact_sheet.ts";
export * from "./kmeans.ts";
export * from "./hierarchy.ts";
export * from "./retrieve.ts";
export * from "./shards.ts";
