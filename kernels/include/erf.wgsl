// erf by Abramowitz-Stegun 7.1.26 (absolute error <= 1.5e-7), and GELU in its erf form
// (PyTorch's default) with its derivative: f32 functions, and vec4f ones with the suffix 4.
// Shared by the matmul kernels (the GELU of the epilogue), elementwise/unary and
// elementwise/unary_backward (also the GELU factor of the matmul gradient).

fn erf_approx(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - poly * exp(-z * z));
}

fn erf_approx4(x: vec4f) -> vec4f {
  let s = sign(x);
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1.0 - poly * exp(-z * z));
}

// gelu(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
fn gelu(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752));
}

fn gelu4(x: vec4f) -> vec4f {
  return 0.5 * x * (1.0 + erf_approx4(x * 0.70710678118654752));
}

// gelu'(x) = Phi(x) + x phi(x), phi the standard normal density
fn gelu_derivative(x: f32) -> f32 {
  let cdf = 0.5 * (1.0 + erf_approx(x * 0.70710678118654752));
  let pdf = 0.39894228040143268 * exp(-0.5 * x * x);
  return cdf + x * pdf;
}
