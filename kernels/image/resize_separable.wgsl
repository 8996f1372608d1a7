// Separable resampling of `planes` row-major [in_height, in_width] planes to
// [out_height, out_width] with banded weight tables (bicubic resize and its adjoint):
//   destination[p, oy, ox] = sum_ty sum_tx wy[oy][ty] * wx[ox][tx] * source[p, sy + ty, sx + tx]
// Table row of output row oy (at oy * (1 + taps_y)): [sy as f32, wy[oy][0..taps_y)]; of output
// column ox (at x_offset + ox * (1 + taps_x)): [sx, wx[ox][0..taps_x)]. Taps past the input edge
// are skipped (their weights are zero). One invocation per element (include/flat_main.wgsl).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"

struct Params {
  count: u32,
  in_height: u32, in_width: u32,
  out_height: u32, out_width: u32,
  taps_y: u32, taps_x: u32,
  x_offset: u32,
}

@group(0) @binding(0) var<storage, read_write> destination: array<f32>;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(i: u32) {
  let ox = i % params.out_width;
  let rest = i / params.out_width;
  let oy = rest % params.out_height;
  let plane = rest / params.out_height;
  let row_at = oy * (1u + params.taps_y);
  let column_at = params.x_offset + ox * (1u + params.taps_x);
  let start_y = u32(table[row_at]);
  let start_x = u32(table[column_at]);
  let plane_at = plane * params.in_height * params.in_width;
  var sum = 0.0;
  for (var ty = 0u; ty < params.taps_y; ty++) {
    let y = start_y + ty;
    if (y >= params.in_height) {
      break;
    }
    var row_sum = 0.0;
    for (var tx = 0u; tx < params.taps_x; tx++) {
      let x = start_x + tx;
      if (x >= params.in_width) {
        break;
      }
      row_sum += table[column_at + 1u + tx] * source[plane_at + y * params.in_width + x];
    }
    sum += table[row_at + 1u + ty] * row_sum;
  }
  destination[i] = sum;
}
