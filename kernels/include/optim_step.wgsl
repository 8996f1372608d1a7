// Shared by the optimizer steps over one flat f32 parameter (optim/adamw, optim/sgd): the uniform
// parameters and the per-step scalars. Those live in a storage buffer, one slot of 8 f32 words per
// parameter (written by one upload per step, src/optim), so the uniform parameters (count, slot)
// stay constant and their buffers stay cached. The includer declares `struct Scalars` (the 8
// words of a slot, in order) and the binding `scalars: array<Scalars>` (read). The steps run one
// invocation per element, i < count (flat_main.wgsl).

struct Params {
  count: u32,
  slot: u32,
}

// This step's scalars of the parameter: slot `params.slot`.
fn step_scalars() -> Scalars {
  return scalars[params.slot];
}
