/**
 * Image ops (forward). Their gradient rules are in src/tensor/grad/image.ts.
 * @module
 */

/** Attributes of the image ops, keyed by op name. */
// deno-lint-ignore no-empty-interface
export interface ImageOps {}
