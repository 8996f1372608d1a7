/**
 * Attention ops (forward). Their gradient rules are in src/tensor/grad/attention.ts.
 * @module
 */

/** Attributes of the attention ops, keyed by op name. */
// deno-lint-ignore no-empty-interface
export interface AttentionOps {}
