/**
 * `dinogpu distill --teacher FILE --student ARCH ...`: trains a smaller student (ViT or MLP-Mixer)
 * with the DINO loss (and iBOT with `--ibot-loss-weight`) against a frozen teacher read from any
 * checkpoint the toolkit loads; every `train` option applies to the student. As in the DINOv2
 * paper, the student's EMA is kept and saved as the model (`--set studentEma=false` for the
 * student itself), and drop path and the student's iBOT masks are off unless asked for. See
 * src/train/distill.ts for how teacher heads are matched.
 * @module
 */
import { Command } from "commander";
import type { DinoTrainConfig } from "../../src/train/config.ts";
import { UserError } from "../run.ts";
import { wholeOption } from "../shared.ts";
import { printRunResult, trainFromFlags } from "./train.ts";
import { addTrainOptions, type TrainFlags } from "./train_options.ts";

/**
 * What distillation changes in the student's recipe, as the paper and DINOv3's
 * `_setup_distillation` do (flags, config files and `--set` still win): no stochastic depth, the
 * student sees its global views unmasked, and an EMA of the student is kept as the model.
 */
export const DISTILL_DEFAULTS: Partial<DinoTrainConfig> = {
  dropPathRate: 0,
  ibotMaskStudent: false,
  studentEma: true,
};

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
    .option(
      "--teacher-head <kind>",
      "checkpoint: the teacher's own DINO/iBOT heads (a checkpoint without one is refused); " +
        "random: fixed random-init heads on the teacher's features, for backbone-only weights " +
        "(the student then learns the teacher's features through a fixed random projection)",
      "checkpoint",
    )
    .action(
      async (
        flags: TrainFlags & {
          teacher: string;
          student: string;
          teacherHeads?: number;
          teacherHead: string;
        },
      ) => {
        if (flags.student !== "vit" && flags.student !== "mixer") {
          throw new UserError(`--student must be vit or mixer, got "${flags.student}"`);
        }
        const { teacher, student, teacherHeads, teacherHead, ...rest } = flags;
        if (teacherHead !== "checkpoint" && teacherHead !== "random") {
          throw new UserError(`--teacher-head must be checkpoint or random, got "${teacherHead}"`);
        }
        const { result } = await trainFromFlags({ ...rest, arch: student }, DISTILL_DEFAULTS, {
          teacher,
          teacherHeads,
          teacherHead,
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
