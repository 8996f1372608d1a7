/**
 * `dinogpu distill --teacher FILE --student ARCH ...`: trains a smaller student (ViT or MLP-Mixer)
 * with the DINO loss (and iBOT with `--ibot-loss-weight`) against a frozen teacher read from any
 * checkpoint the toolkit loads; every `train` option applies to the student. See
 * src/train/distill.ts for how teacher heads are matched.
 * @module
 */
import { Command } from "commander";
import { UserError } from "../run.ts";
import { wholeOption } from "../shared.ts";
import { addTrainOptions, printRunResult, type TrainFlags, trainFromFlags } from "./train.ts";

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
    .option(
      "--teacher-heads <n>",
      "teacher attention heads when its weights do not say",
      wholeOption("--teacher-heads"),
    )
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
        printRunResult(
          result,
          flags.json,
          `distilled ${result.steps} steps at ${result.imagesPerSecond.toFixed(1)} images/s; ` +
            `checkpoint ${result.checkpoint}`,
        );
      },
    );
}
