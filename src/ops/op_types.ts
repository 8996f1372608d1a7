/**
 * The attribute types of every differentiable op, gathered from the op families. `OpName` keys
 * the gradient rule table in src/ops/gradients.ts, so an op without a rule fails to compile.
 * @module
 */
import type { AttentionOps } from "./attention/forward.ts";
import type { CastOps } from "./cast/forward.ts";
import type { ElementwiseOps } from "./elementwise/forward.ts";
import type { ImageOps } from "./image/forward.ts";
import type { KoleoOps } from "./koleo/forward.ts";
import type { MatmulOps } from "./matmul/forward.ts";
import type { NormalizationOps } from "./normalization/forward.ts";
import type { ReductionOps } from "./reduction/forward.ts";
import type { RopeOps } from "./rope/forward.ts";
import type { ShapeOps } from "./shape/forward.ts";
import type { SoftmaxOps } from "./softmax/forward.ts";

/** Attributes of every op, keyed by op name. */
export type OpAttributes =
  & AttentionOps
  & CastOps
  & ElementwiseOps
  & ImageOps
  & KoleoOps
  & MatmulOps
  & NormalizationOps
  & ReductionOps
  & RopeOps
  & ShapeOps
  & SoftmaxOps;

/** Name of a differentiable op. */
export type OpName = keyof OpAttributes;
