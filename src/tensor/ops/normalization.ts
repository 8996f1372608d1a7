/**
 * Normalization ops (forward). Their gradient rules are in src/tensor/grad/normalization.ts.
 * @module
 */

/** Attributes of the normalization ops, keyed by op name. */
// deno-lint-ignore no-empty-interface
export interface NormalizationOps {}
