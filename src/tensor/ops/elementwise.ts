/**
 * Elementwise ops (forward). Their gradient rules are in src/tensor/grad/elementwise.ts.
 * @module
 */

/** Attributes of the elementwise ops, keyed by op name. */
// deno-lint-ignore no-empty-interface
export interface ElementwiseOps {}
