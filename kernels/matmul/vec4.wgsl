// Register-blocked vec4 matmul on f32 operands: include/matmul_vec4_body.wgsl (what it computes
// and how) with a and b read from f32 bindings.

// #include "matmul_inputs.wgsl"
// #include "matmul_vec4_body.wgsl"
