/**
 * Shape ops (forward). Their gradient rules are in src/tensor/grad/shape.ts.
 * @module
 */

/** Attributes of the shape ops, keyed by op name. */
// deno-lint-ignore no-empty-interface
export interface ShapeOps {}
