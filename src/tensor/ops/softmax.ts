/**
 * Softmax ops (forward). Their gradient rules are in src/tensor/grad/softmax.ts.
 * @module
 */

/** Attributes of the softmax ops, keyed by op name. */
// deno-lint-ignore no-empty-interface
export interface SoftmaxOps {}
