// The end of a guarded training step (src/optim/step_guard.ts), one invocation: counts the step
// as skipped when its flag is up (a gradient norm that was not finite: optim/clip_finalize),
// counts[0] = steps skipped so far, counts[1] = skipped in a row (0 after a step that was not),
// then lowers the flag for the next step.

@group(0) @binding(0) var<storage, read_write> flag: array<u32>;
@group(0) @binding(1) var<storage, read_write> counts: array<u32>;

@compute @workgroup_size(1)
fn main() {
  if (flag[0] != 0u) {
    counts[0] = counts[0] + 1u;
    counts[1] = counts[1] + 1u;
  } else {
    counts[1] = 0u;
  }
  flag[0] = 0u;
}
