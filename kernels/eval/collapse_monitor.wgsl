// Collapse monitors of DINO's teacher, in one workgroup: over probabilities p [rows, classes]
//   mean_entropy  = mean over rows of -sum_c p log p
//   batch_entropy = -sum_c m_c log m_c with m = mean over rows of p
//   kl            = mean over rows of sum_c p (log p - student_log[c])   (when has_student is 1)
// with 0 log 0 = 0. One dispatch covers classes [class_begin, class_end) and, when accumulate is
// 1, adds its sums to the outputs (all three are sums over classes): lavapipe silently ends an
// invocation after 65,535 loop iterations in all, so the host splits the classes into ranges that
// keep every invocation under that count. Each thread takes classes class_begin + local,
// + WORKGROUP_SIZE, ...; then a tree sum.

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  rows: u32,
  classes: u32,
  has_student: u32,
  class_begin: u32,
  class_end: u32,
  accumulate: u32,
}

@group(0) @binding(0) var<storage, read> teacher: array<f32>;
@group(0) @binding(1) var<storage, read> student_log: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean_entropy: array<f32>;
@group(0) @binding(3) var<storage, read_write> batch_entropy: array<f32>;
@group(0) @binding(4) var<storage, read_write> kl: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

var<workgroup> partial: array<vec3f, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) local: u32) {
  var sums = vec3f(0.0);
  for (var c = params.class_begin + local; c < params.class_end; c = c + WORKGROUP_SIZE) {
    var column = 0.0;
    for (var r = 0u; r < params.rows; r = r + 1u) {
      let at = r * params.classes + c;
      let p = teacher[at];
      column = column + p;
      if (p > 0.0) {
        let log_p = log(p);
        sums.x = sums.x - p * log_p;
        if (params.has_student == 1u) {
          sums.z = sums.z + p * (log_p - student_log[at]);
        }
      }
    }
    let m = column / f32(params.rows);
    if (m > 0.0) {
      sums.y = sums.y - m * log(m);
    }
  }
  partial[local] = sums;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (local < stride) {
      partial[local] = partial[local] + partial[local + stride];
    }
    workgroupBarrier();
  }
  if (local == 0u) {
    let rows = f32(max(params.rows, 1u));
    var before = vec3f(0.0);
    if (params.accumulate == 1u) {
      before = vec3f(mean_entropy[0], batch_entropy[0], kl[0]);
    }
    mean_entropy[0] = before.x + partial[0].x / rows;
    batch_entropy[0] = before.y + partial[0].y;
    kl[0] = before.z + partial[0].z / rows;
  }
}
