/**
 * The op families, each in a folder of its own: forward ops (`forward.ts`), their gradient rules
 * (`backward.ts`), the kernels they launch under kernels/<family>/. Matmul also has its kernel
 * variants, the K split and the autotuner (`matmul/variants.ts`).
 * @module
 */
export type { OpAttributes, OpName } from "./op_types.ts";
export * from "./elementwise/forward.ts";
export * from "./reduction/forward.ts";
export * from "./normalization/forward.ts";
export * from "./softmax/forward.ts";
export * from "./matmul/forward.ts";
export * from "./matmul/variants.ts";
export * from "./matmul/tuning.ts";
export * from "./attention/forward.ts";
export * from "./shape/forward.ts";
export * from "./image/forward.ts";
export * from "./koleo/forward.ts";
