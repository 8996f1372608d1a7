/**
 * `--precision f32|f16`, the option of the commands that run a model (src/nn/module.ts,
 * `ComputePrecision`).
 * @module
 */
import type { ComputePrecision } from "../src/nn/module.ts";
import { UserError } from "./run.ts";

/** The `--precision` option of the commands that run a model. */
export const PRECISION_FLAG = "--precision <f32|f16>";
/** Its help text. */
export const PRECISION_HELP = "precision of the model's matrix products: f32, or f16 operands " +
  "(Linear layers; f32 sums, weights and everything else)";

/** Parses `--precision`. */
export function precisionFlag(value: string | undefined): ComputePrecision {
  if (value === undefined || value === "f32" || value === "f16") return value ?? "f32";
  throw new UserError(`--precision must be f32 or f16, got ${JSON.stringify(value)}`);
}
