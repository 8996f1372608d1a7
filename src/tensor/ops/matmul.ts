/**
 * Matmul ops (forward). Their gradient rules are in src/tensor/grad/matmul.ts.
 * @module
 */

/** Attributes of the matmul ops, keyed by op name. */
// deno-lint-ignore no-empty-interface
export interface MatmulOps {}
