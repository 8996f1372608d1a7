// Shared by the blocked attention backward kernels (attention/backward_query,
// backward_key_value): attention_blocked.wgsl plus the bindings the backward reads after q, k and
// v (dO, the saved log-sum-exp and delta) and the loads of dO.
// #include "attention_blocked.wgsl"

// #include "attention_backward_inputs.wgsl"

// Columns 4 vec .. 4 vec + 3 of the 4 rows of dO at `rows`, one row per matrix column.
fn grad_output_columns(rows: vec4u, vec: u32) -> mat4x4f {
  return mat4x4f(
    load_grad_output(rows.x, vec),
    load_grad_output(rows.y, vec),
    load_grad_output(rows.z, vec),
    load_grad_output(rows.w, vec),
  );
}
