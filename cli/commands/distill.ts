/**
 * `dinogpu distill --teacher FILE --student ARCH ...`: trains a smaller student (ViT or MLP-Mixer)
 * with the DINO loss (and iBOT with `--ibot-loss-weight`) against a frozen teacher read from any
 * checkpoint the toolkit loads; every `train` option applies to the student. See
 * src/train/distill.ts for how teacher heads are matched.
 * @module
 */
import { Command } from "commander";
import { UserError } from "../run.ts";
import { addTrainOptions, type TrainFlags, trainFromFlags } from "./train.ts";

/** The `distill` command. */
export function distillCommand(): Command {
  return addTrainOptions(
    new Command("distill").description(
      "distil a frozen teacher (dinogpu run, DINO / DINOv2 / timm / Hugging Face weights) into " +
        "a smaller ViT or MLP-Mixer with the DINO (and optionally iBOT) loss",
    ),
  )
    .requiredOption("--teacher <file>", "teacher checkpoint (file, folder or dinogpu run)")
    .option("--student <arch>", "student architecture: vit | mixer", "vit")
    .option("--teacher-heads <n>", "teacher attention heads when its weights do not say", Number)
    .action(
      async (flags: TrainFlags & { teacher: string; student: string; teacherHeads?: number }) => {
        if (flags.student !== "vit" && flags.student !== "mixer") {
          throw new UserError(`--student must be vit or mixer, got "${flags.student}"`);
        }
        const { teacher, student, teacherHeads, ...rest } = flags;
        const { result } = await trainFromFlags({ ...rest, arch: student }, {}, {
          teacher,
          teacherHeads,
        });
        const summary = {
          steps: result.steps,
          knn_top1_before: result.knnBefore,
          knn_top1_after: result.knnAfter,
          images_per_second: result.imagesPerSecond,
          peak_gpu_bytes: result.peakGpuBytes,
          checkpoint: result.checkpoint,
        };
        if (flags.json) console.log(JSON.stringify(summary));
        else {
          console.log(
            `distilled ${result.steps} steps at ${result.imagesPerSecond.toFixed(1)} images/s; ` +
              `checkpoint ${result.checkpoint}`,
          );
          if (result.knnAfter !== undefined) {
            console.log(
              `knn_top1 before=${result.knnBefore?.toFixed(2) ?? "n/a"} after=${
                result.knnAfter.toFixed(2)
              }`,
            );
          }
        }
      },
    );
}
