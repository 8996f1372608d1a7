// Shared by the optimizer steps over one flat f32 parameter (optim/adamw, optim/sgd): the uniform
// parameters, the bindings every step has (parameter, updated in place; gradient; scalars) and
// the per-step scalars. Those live in a storage buffer, one slot of 8 f32 words per parameter
// (written by one upload per step, src/optim), so the uniform parameters (count, slot) stay
// constant and their buffers stay cached. The includer declares `struct Scalars` (the 8 words of
// a slot, in order) and its own state from binding 3 on. The steps run one invocation per
// element, i < count (flat_main.wgsl).

struct Params {
  count: u32,
  slot: u32,
}

@group(0) @binding(0) var<storage, read_write> parameter: array<f32>;
@group(0) @binding(1) var<storage, read> gradient: array<f32>;
@group(0) @binding(2) var<storage, read> scalars: array<Scalars>;
@group(1) @binding(0) var<uniform> params: Params;

// This step's scalars of the parameter: slot `params.slot`.
fn step_scalars() -> Scalars {
  return scalars[params.slot];
}
