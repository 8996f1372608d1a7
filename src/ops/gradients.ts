/**
 * The gradient rule of every op, gathered from one file per op family. Its type lists every
 * op name, so an op without a rule is a compile error.
 * @module
 */
import type { OpName } from "./op_types.ts";
import { attentionGrads } from "./attention/backward.ts";
import { castGrads } from "./cast/backward.ts";
import { elementwiseGrads } from "./elementwise/backward.ts";
import { imageGrads } from "./image/backward.ts";
import { koleoGrads } from "./koleo/backward.ts";
import { matmulGrads } from "./matmul/backward.ts";
import { normalizationGrads } from "./normalization/backward.ts";
import { reductionGrads } from "./reduction/backward.ts";
import { ropeGrads } from "./rope/backward.ts";
import type { GradTable } from "../tensor/grad_rule.ts";
import { shapeGrads } from "./shape/backward.ts";
import { softmaxGrads } from "./softmax/backward.ts";

/** Gradient rules keyed by op name. */
export const gradRules: GradTable<OpName> = {
  ...attentionGrads,
  ...castGrads,
  ...elementwiseGrads,
  ...imageGrads,
  ...koleoGrads,
  ...matmulGrads,
  ...normalizationGrads,
  ...reductionGrads,
  ...ropeGrads,
  ...shapeGrads,
  ...softmaxGrads,
};
