// Shared by the "rows" fused attention kernels (attention/rows_forward, rows_backward_query,
// rows_backward_key_value): their override constants, where an
// invocation's row lies (the loads: attention_vec_loads.wgsl), and their entry point `main`, which calls the includer's
// `fn compute_row(task: RowTask)` for the invocations that have a row. Invocation
// r = x + y * (x workgroups * WORKGROUP_SIZE) (flat_index) computes row r % n of head r / n
// (head = batch * heads + h).

override WORKGROUP_SIZE: u32 = 64u;
// vec4s per row of the head: ceil(d / 4)
override HEAD_VECS: u32 = 4u;
// columns of the last vec4 that lie inside the row: d - 4 (HEAD_VECS - 1), 1..4
override LAST_COLUMNS: u32 = 4u;

// #include "attention_params.wgsl"
// #include "attention_vec_loads.wgsl"
// #include "flat_index.wgsl"

const MAX_HEAD_VECS: u32 = 32u;

// Columns of vec4 `vec` of a row that lie inside d: 4, or LAST_COLUMNS in the last vec4.
fn columns_at(vec: u32) -> u32 {
  return select(4u, LAST_COLUMNS, vec + 1u == HEAD_VECS);
}

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

// The sum of the four lanes of `v`, as two pairs.
fn sum4(v: vec4f) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let task = row_task(id, groups);
  if (task.head < params.batch_heads) {
    compute_row(task);
  }
}
