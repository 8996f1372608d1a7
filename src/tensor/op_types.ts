/**
 * The attribute types of every differentiable op, gathered from the op families. `OpName` keys
 * the gradient rule table in src/tensor/grad/rules.ts, so an op without a rule fails to compile.
 * @module
 */
import type { AttentionOps } from "./ops/attention.ts";
import type { ElementwiseOps } from "./ops/elementwise.ts";
import type { ImageOps } from "./ops/image.ts";
import type { KoleoOps } from "./ops/koleo.ts";
import type { MatmulOps } from "./ops/matmul.ts";
import type { NormalizationOps } from "./ops/normalization.ts";
import type { ReductionOps } from "./ops/reduction.ts";
import type { ShapeOps } from "./ops/shape.ts";
import type { SoftmaxOps } from "./ops/softmax.ts";

/** Attributes of every op, keyed by op name. */
export type OpAttributes =
  & AttentionOps
  & ElementwiseOps
  & ImageOps
  & KoleoOps
  & MatmulOps
  & NormalizationOps
  & ReductionOps
  & ShapeOps
  & SoftmaxOps;

/** Name of a differentiable op. */
export type OpName = keyof OpAttributes;
