// Shared by the optimizer steps over one flat f32 parameter (optim/adamw, optim/sgd): the uniform
// parameters, the bindings every step has (parameter, updated in place; gradient; scalars) and
// the per-step scalars. Those live in a storage buffer, one slot of 8 f32 words per parameter
// (written by one upload per step, src/optim), so the uniform parameters (count, slot, scale
// index) stay constant and their buffers stay cached. The includer declares `struct Scalars` (the
// 8 words of a slot, in order) and its own state from binding 3 on. The steps run one invocation
// per element, i < count (flat_main.wgsl), or per VECTORS_PER_INVOCATION vec4s (flat_vec4.wgsl,
// through the vec4 views `parameter4` and `gradient4` of the same bindings).

struct Params {
  count: u32,
  slot: u32,
  // AdamW: the entry of its gradient-scale array this parameter's gradient is multiplied by
  // (0 where one factor serves every parameter; SGD passes 0 and reads none)
  scale_index: u32,
}

@group(0) @binding(0) var<storage, read_write> parameter: array<f32>;
@group(0) @binding(1) var<storage, read> gradient: array<f32>;
@group(0) @binding(2) var<storage, read> scalars: array<Scalars>;
@group(0) @binding(0) var<storage, read_write> parameter4: array<vec4f>;
@group(0) @binding(1) var<storage, read> gradient4: array<vec4f>;
@group(1) @binding(0) var<uniform> params: Params;

// This step's scalars of the parameter: slot `params.slot`.
fn step_scalars() -> Scalars {
  return scalars[params.slot];
}
