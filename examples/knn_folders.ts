/**
 * k-nearest neighbours between two folders: embeds both with a ViT (see embed_folder.ts) and,
 * for each image of the query folder, prints the `k` most similar images of the reference folder
 * by cosine similarity of their CLS features.
 *
 * ```sh
 * deno run --allow-read --allow-env examples/knn_folders.ts references/ queries/ [CHECKPOINT] [--k 3]
 * ```
 * @module
 */
import { initGpu } from "../mod.ts";
import { embedFolder, loadModel } from "./embed_folder.ts";

/** Indices and cosine similarities of the `k` rows of `references` most similar to `query`. */
export function nearest(
  query: Float32Array,
  references: Float32Array[],
  k: number,
): { index: number; similarity: number }[] {
  const norm = (v: Float32Array) => Math.hypot(...v) || 1;
  const queryNorm = norm(query);
  return references
    .map((reference, index) => {
      let dot = 0;
      for (let i = 0; i < query.length; i++) dot += query[i] * reference[i];
      return { index, similarity: dot / (queryNorm * norm(reference)) };
    })
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, k);
}

if (import.meta.main) {
  const kAt = Deno.args.indexOf("--k");
  const k = kAt >= 0 ? Number(Deno.args[kAt + 1]) : 3;
  const [referenceFolder, queryFolder, checkpoint] = Deno.args.filter((arg, i, all) =>
    !arg.startsWith("--") && all[i - 1] !== "--k"
  );
  if (!referenceFolder || !queryFolder) {
    console.error("usage: knn_folders.ts REFERENCE_FOLDER QUERY_FOLDER [CHECKPOINT] [--k N]");
    Deno.exit(2);
  }
  await initGpu();
  const model = await loadModel(checkpoint);
  const references = await embedFolder(model, referenceFolder);
  const queries = await embedFolder(model, queryFolder);
  for (const [index, name] of queries.names.entries()) {
    const found = nearest(queries.features[index], references.features, k);
    console.log(
      `${name}: ${
        found.map(({ index, similarity }) =>
          `${references.names[index]} (${similarity.toFixed(3)})`
        )
          .join(", ")
      }`,
    );
  }
  model.dispose();
}
