// Register-blocked vec4 matmul on f16 operands: include/matmul_vec4_body.wgsl (what it computes
// and how) with a and b stored as f16 and widened to f32 as they are read; the products, sums,
// epilogue and output stay f32.

// #include "matmul_inputs_f16.wgsl"
// #include "matmul_vec4_body.wgsl"
