/**
 * The gradient rule of every op, gathered from one file per op family. Its type lists every
 * op name, so an op without a rule is a compile error.
 * @module
 */
import type { OpName } from "../op_types.ts";
import { attentionGrads } from "./attention.ts";
import { elementwiseGrads } from "./elementwise.ts";
import { imageGrads } from "./image.ts";
import { koleoGrads } from "./koleo.ts";
import { matmulGrads } from "./matmul.ts";
import { normalizationGrads } from "./normalization.ts";
import { reductionGrads } from "./reduction.ts";
import type { GradTable } from "./rule.ts";
import { shapeGrads } from "./shape.ts";
import { softmaxGrads } from "./softmax.ts";

/** Gradient rules keyed by op name. */
export const gradRules: GradTable<OpName> = {
  ...attentionGrads,
  ...elementwiseGrads,
  ...imageGrads,
  ...koleoGrads,
  ...matmulGrads,
  ...normalizationGrads,
  ...reductionGrads,
  ...shapeGrads,
  ...softmaxGrads,
};
