/**
 * `dinogpu probe --weights FILE --data SPEC`: DINO's linear probe on frozen features (the CLS
 * tokens of the last n blocks concatenated, optionally with the average-pooled patch tokens;
 * SGD with momentum and a cosine learning rate), reporting top-1 and top-5 on the test split;
 * `--pixels` probes the raw pixels instead, the baseline a model's features have to beat.
 * @module
 */
import { Command } from "commander";
import { type FeatureModel, probeFeatures } from "../../src/eval/features.ts";
import {
  linearProbe,
  type LinearProbeResult,
  sweepLinearProbe,
} from "../../src/eval/linear_probe.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { ProgressBar } from "../progress.ts";
import { UserError } from "../run.ts";
import { addFeatureOptions, loadFeatureSource, trainTestFeatures } from "../features.ts";
import { DATA_SPEC_HELP, percent, positiveFlag, wholeFlag } from "../shared.ts";

/** The `probe` command. */
export function probeCommand() {
  const command = new Command("probe")
    .description("linear probe accuracy on a model's frozen features")
    .option("--weights <file>", "dinogpu weights (.safetensors) or a checkpoint folder")
    .option("--pixels", "probe the raw pixels in [0, 1] (the baseline; no --weights)")
    .option("--data <spec>", DATA_SPEC_HELP, "synthetic")
    .option("--epochs <n>", "passes over the train features", "20")
    .option("--last-blocks <n>", "CLS tokens of this many last blocks (ViT)", "4")
    .option("--avgpool", "also the average-pooled patch tokens of the last block (ViT)")
    .option(
      "--lr <x[,x...]>",
      "peak learning rate of the cosine schedule; several (0.01,0.03,0.1,0.3) are each tried on " +
        "a held-out part of the train split and the best one trains the final probe",
      "0.1",
    )
    .option(
      "--validation-fraction <f>",
      "share of the train split held out to choose among several --lr",
      "0.1",
    )
    .option("--probe-batch-size <n>", "rows per SGD step", "256");
  return addFeatureOptions(command, "seed of generated data, splits and the probe")
    .action(async (options) => {
      const epochs = wholeFlag(options.epochs, "--epochs");
      const lastBlocksWanted = wholeFlag(options.lastBlocks, "--last-blocks");
      const lrs = String(options.lr).split(",").map((text) => positiveFlag(text.trim(), "--lr"));
      const validationFraction = Number(options.validationFraction);
      if (!(validationFraction > 0 && validationFraction < 1)) {
        throw new UserError(
          `--validation-fraction must be a number in (0, 1), got ${options.validationFraction}`,
        );
      }
      const probeBatchSize = wholeFlag(options.probeBatchSize, "--probe-batch-size");
      const { flags, data, model, arch } = await loadFeatureSource(
        options,
        "probe",
        Boolean(options.pixels),
        "--pixels",
      );
      const { size, batchSize, seed, quiet } = flags;
      const started = performance.now();
      try {
        let lastBlocks = 1;
        let avgPool = false;
        let compute: ((model: FeatureModel, images: Tensor) => Tensor) | undefined;
        if (!model) {
          if (options.avgpool || options.lastBlocks !== "4") {
            console.error("probe: --last-blocks and --avgpool apply to a model's features");
          }
        } else if (model instanceof VisionTransformer) {
          if (lastBlocksWanted > model.blocks.length) {
            throw new UserError(
              `--last-blocks ${lastBlocksWanted} exceeds the model's ${model.blocks.length} blocks`,
            );
          }
          lastBlocks = lastBlocksWanted;
          avgPool = Boolean(options.avgpool);
          const vit = model;
          compute = (_, images) => probeFeatures(vit, images, { lastBlocks, avgPool });
        } else if (options.avgpool || options.lastBlocks !== "4") {
          console.error(
            "probe: --last-blocks and --avgpool apply to ViTs; a Mixer gives its mean token",
          );
        }
        const { train, test } = await trainTestFeatures(model, data, {
          size,
          batchSize,
          quiet,
          compute,
        });
        const probes = lrs.length > 1 ? lrs.length + 1 : 1;
        const bar = new ProgressBar({
          label: "probe",
          total: epochs * probes,
          unit: "epoch",
          silent: quiet,
        });
        let probesDone = 0;
        const probeOptions = {
          dim: train.dim,
          classes: data.classes,
          epochs,
          batchSize: probeBatchSize,
          seed,
          onEpoch: (epoch: number, loss: number) =>
            bar.update(probesDone * epochs + epoch + 1, { loss }),
        };
        const trainSplit = { features: train.features, labels: train.labels };
        const testSplit = { features: test.features, labels: test.labels };
        let result: LinearProbeResult;
        let lr = lrs[0];
        let validation: { lr: number; top1: number }[] | undefined;
        if (lrs.length > 1) {
          const swept = await sweepLinearProbe(trainSplit, testSplit, {
            ...probeOptions,
            lrs,
            validationFraction,
            onProbe: (probeLr, top1, what) => {
              probesDone++;
              if (what === "validation") {
                bar.note(`probe: lr ${probeLr} validation top-1 ${percent(top1)}%`);
              }
            },
          });
          ({ lr, validation } = swept);
          result = swept;
        } else {
          result = await linearProbe(trainSplit, testSplit, { ...probeOptions, lr });
        }
        bar.finish({ loss: result.finalLoss });
        const seconds = (performance.now() - started) / 1000;
        if (options.json) {
          console.log(JSON.stringify({
            probe_top1: Number(percent(result.top1)),
            probe_top5: Number(percent(result.top5)),
            final_loss: result.finalLoss,
            epochs,
            lr,
            ...(validation
              ? {
                // percent, as probe_top1
                validation: validation.map((v) => ({ lr: v.lr, top1: Number(percent(v.top1)) })),
                validation_fraction: validationFraction,
              }
              : {}),
            features: model ? "model" : "pixels",
            last_blocks: lastBlocks,
            avgpool: avgPool,
            data: data.name,
            train: train.rows,
            test: test.rows,
            dim: train.dim,
            arch,
            seconds: Number(seconds.toFixed(2)),
          }));
        } else {
          const chosen = validation ? ` lr=${lr}` : "";
          console.log(
            `probe_top1=${percent(result.top1)} probe_top5=${percent(result.top5)}${chosen}`,
          );
        }
      } finally {
        model?.dispose();
      }
    });
}
