/**
 * Reduction ops (forward). Their gradient rules are in src/tensor/grad/reduction.ts.
 * @module
 */

/** Attributes of the reduction ops, keyed by op name. */
// deno-lint-ignore no-empty-interface
export interface ReductionOps {}
