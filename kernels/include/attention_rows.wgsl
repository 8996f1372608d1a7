// Shared by the "rows" fused attention kernels (attention/rows_forward, rows_backward_query,
// rows_backward_key_value): attention_rows_common.wgsl, where an invocation's row lies, and their
// entry point `main`, which calls the includer's `fn compute_row(task: RowTask)` for the
// invocations that have a row. Invocation r = x + y * (x workgroups * WORKGROUP_SIZE)
// (flat_index) computes row r % n of head r / n (head = batch * heads + h).

// #include "attention_rows_common.wgsl"

// The row an invocation computes: row `row` of head `head` (head * n + row = `index`), with the
// head's offsets. An invocation with head >= batch_heads has none.
struct RowTask {
  index: u32,
  head: u32,
  row: u32,
  bases: HeadBases,
}

fn row_task(id: vec3u, groups: vec3u) -> RowTask {
  let index = flat_index(id, groups);
  let head = index / params.n;
  return RowTask(index, head, index - head * params.n, head_bases(head));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let task = row_task(id, groups);
  if (task.head < params.batch_heads) {
    compute_row(task);
  }
}
