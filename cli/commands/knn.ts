/**
 * `dinogpu knn --weights FILE --data SPEC`: weighted k-NN accuracy of a backbone's features
 * (DINO's protocol: cosine similarity, k = 20, votes exp(similarity / 0.07)) on the test split
 * against the train split; `--features pixels` gives the raw-pixel baseline without a model.
 * @module
 */
import { Command } from "commander";
import {
  batchFeatures,
  FEATURE_KINDS,
  type FeatureKind,
  type FeatureModel,
  featuresOfKind,
} from "../../src/eval/features.ts";
import { knnClassify, MAX_KNN_K } from "../../src/eval/knn.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { UserError } from "../run.ts";
import { addFeatureOptions, loadFeatureSource, trainTestFeatures } from "../features.ts";
import { DATA_SPEC_HELP, percent, positiveFlag, wholeFlag } from "../shared.ts";

/** The `knn` command. */
export function knnCommand() {
  const command = new Command("knn")
    .description("k-NN accuracy of a model's features (train split votes for the test split)")
    .option("--weights <file>", "dinogpu weights (.safetensors) or a checkpoint folder")
    .option("--data <spec>", DATA_SPEC_HELP, "synthetic")
    .option(
      "--features <kind>",
      "cls | mean (of the patch tokens) | cls+mean (ViT), or several (cls,cls+mean: one " +
        "extraction, a line each) | pixels (the raw-pixel baseline: no --weights)",
      "cls",
    )
    .option("--k <n>", "neighbours that vote", "20")
    .option("--temperature <t>", "vote weight exp(similarity / t)", "0.07");
  return addFeatureOptions(command, "seed of generated data and of splits")
    .action(async (options) => {
      const k = wholeFlag(options.k, "--k", 1, MAX_KNN_K);
      const temperature = positiveFlag(options.temperature, "--temperature");
      const wanted = [...new Set(String(options.features).split(",").map((kind) => kind.trim()))];
      const pixels = wanted.includes("pixels");
      const known = [...FEATURE_KINDS, "pixels"];
      const unknown = wanted.find((kind) => !known.includes(kind));
      if (unknown !== undefined || (pixels && wanted.length > 1)) {
        throw new UserError(
          `--features must be one of ${known.join(", ")}, or several of the first three ` +
            `separated by commas, got "${options.features}"`,
        );
      }
      const kinds = wanted as FeatureKind[];
      const { flags, data, model, arch } = await loadFeatureSource(
        options,
        "knn",
        pixels,
        "--features pixels",
      );
      const { size, batchSize, quiet } = flags;
      const started = performance.now();
      try {
        // several kinds are columns of one "cls+mean" extraction (featuresOfKind)
        const extracted: FeatureKind = kinds.length === 1 ? kinds[0] : "cls+mean";
        const compute = (model: FeatureModel, images: Tensor) =>
          batchFeatures(model, images, extracted);
        const all = await trainTestFeatures(model, data, { size, batchSize, quiet, compute });
        for (const kind of pixels ? ["pixels" as const] : kinds) {
          const [train, test] = kind === "pixels" || kinds.length === 1
            ? [all.train, all.test]
            : [featuresOfKind(all.train, kind, model!), featuresOfKind(all.test, kind, model!)];
          const result = await knnClassify(
            { features: train.features, dim: train.dim, labels: train.labels },
            { features: test.features, dim: test.dim, labels: test.labels },
            { k, temperature, classes: data.classes },
          );
          const seconds = (performance.now() - started) / 1000;
          if (options.json) {
            console.log(JSON.stringify({
              knn_top1: Number(percent(result.top1)),
              knn_top5: Number(percent(result.top5)),
              k,
              temperature,
              data: data.name,
              train: train.rows,
              test: test.rows,
              dim: train.dim,
              features: kind,
              arch,
              seconds: Number(seconds.toFixed(2)),
            }));
          } else {
            const which = kinds.length > 1 ? ` features=${kind}` : "";
            console.log(
              `knn_top1=${percent(result.top1)} knn_top5=${percent(result.top5)}${which}`,
            );
          }
        }
      } finally {
        model?.dispose();
      }
    });
}
