/**
 * DINO training: configuration, losses, networks, the training step and its trainer, the run.
 * @module
 */
export * from "./config.ts";
export * from "./validate.ts";
export * from "./centering.ts";
export * from "./dino_loss.ts";
export * from "./models.ts";
export * from "./schedules.ts";
export * from "./step.ts";
export * from "./dino_trainer.ts";
export * from "./checkpoint.ts";
export * from "./run.ts";
export * from "./ibot.ts";
export * from "./sinkhorn.ts";
export * from "./koleo.ts";
export * from "./masking.ts";
export * from "./curriculum.ts";
export * from "./distill.ts";
