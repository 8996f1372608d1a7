// DINO's multi-crop augmentation of a uint8 image batch (src/data/augment.ts drives it).
// Source: [batch, height, width, 3] uint8 (HWC, RGB) packed four bytes per u32, little-endian (byte k
// of the batch is bits 8 (k % 4) .. of word k / 4). Output: f32 [batch, 3, size, size] (NCHW).
// Per-image random parameters (ImageParams, drawn on the CPU) come in a storage buffer.
// Entry points, in the order they run for one view:
//   contrast_mean (where some image's jitter has contrast): one workgroup per image; samples the
//     crop (below) into `output` and takes the mean luma of the crop after the jitter operations
//     that precede contrast (torchvision's adjust_contrast blends with the grayscale mean of its
//     input).
//   color: crop + resize (bilinear, or bicubic a = -0.75 clamped to [0, 1]; PyTorch's
//     align_corners=False source indices, no antialias) + flip, or with `presampled` the crop that
//     contrast_mean left in `output`; then colour jitter in the drawn order + grayscale; with
//     `finalize` also solarise + normalise, else the raw colour goes to a scratch.
//   blur_rows, blur_columns: separable Gaussian (taps -r..r, r = ceil(3 sigma), edge pixels
//     replicated); blur_columns then solarises and normalises.

override WORKGROUP_SIZE: u32 = 256u;

const REDUCE_SIZE: u32 = 256u;
const SOLARIZE_THRESHOLD: f32 = 128.0 / 255.0;
const LUMA: vec3f = vec3f(0.299, 0.587, 0.114);
const CUBIC_A: f32 = -0.75;

struct Params {
  batch: u32, height: u32, width: u32, size: u32,
  // 0 bilinear, 1 bicubic
  interpolation: u32,
  // color: 1 writes the normalised output, 0 the raw colour (blur follows)
  finalize: u32,
  // byte offset of the batch in `pixels` (views cut on the CPU lie back to back)
  offset: u32,
  // color: 1 reads the crop contrast_mean sampled into `output`, 0 samples it
  presampled: u32,
  mean: vec4f, deviation: vec4f,
}

// Mirrors packImageAugmentations in src/data/augment_params.ts (16 words).
struct ImageParams {
  top: f32, left: f32, crop_height: f32, crop_width: f32,
  flip: u32,
  // 3 bits per operation, first lowest: 1 brightness, 2 contrast, 3 saturation, 4 hue, 0 end
  jitter_order: u32,
  brightness: f32, contrast: f32, saturation: f32, hue: f32,
  grayscale: u32, solarize: u32,
  blur_sigma: f32, blur_radius: u32,
  pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<storage, read> pixels: array<u32>;
// ImageParams of image b at vec4 4 b .. 4 b + 3 (read by `image_at`)
@group(0) @binding(1) var<storage, read> images: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> means: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

// bindings of the blur passes
@group(0) @binding(0) var<storage, read> blur_input: array<f32>;
@group(0) @binding(2) var<storage, read_write> blur_output: array<f32>;

@group(1) @binding(0) var<uniform> params: Params;

// Image b's parameters, read as four vec4 (a load costs the same whatever its width, on lavapipe).
fn image_at(b: u32) -> ImageParams {
  let box = bitcast<vec4f>(images[4u * b]);
  let w1 = images[4u * b + 1u];
  let w2 = images[4u * b + 2u];
  let w3 = images[4u * b + 3u];
  return ImageParams(
    box.x, box.y, box.z, box.w,
    w1.x, w1.y, bitcast<f32>(w1.z), bitcast<f32>(w1.w),
    bitcast<f32>(w2.x), bitcast<f32>(w2.y), w2.z, w2.w,
    bitcast<f32>(w3.x), w3.y, w3.z, w3.w,
  );
}

var<workgroup> partial: array<f32, REDUCE_SIZE>;

// The four words from the one holding the first byte of pixel (x0, y) of image b: they hold the
// 12 bytes of pixels x0 .. x0 + 3 of that row wherever the row starts in a word, so the taps of a
// resampling row cost four loads instead of three per tap. At the end of the batch the last words
// may lie past its data (their bytes are never used; a read past the buffer is bounds-checked).
struct RowWords {
  words: vec4u,
  // byte of pixel x0 within `words`
  first: u32,
  x0: i32,
}

fn row_words(b: u32, x0: i32, y: i32) -> RowWords {
  let byte = params.offset + ((b * params.height + u32(y)) * params.width + u32(x0)) * 3u;
  let word = byte >> 2u;
  let words = vec4u(pixels[word], pixels[word + 1u], pixels[word + 2u], pixels[word + 3u]);
  return RowWords(words, byte & 3u, x0);
}

fn row_byte(row: RowWords, index: u32) -> f32 {
  return f32((row.words[index >> 2u] >> ((index & 3u) * 8u)) & 255u) / 255.0;
}

// Pixel x (x0 <= x <= x0 + 3) of a row window, in [0, 1].
fn row_pixel(row: RowWords, x: i32) -> vec3f {
  let at = row.first + u32(x - row.x0) * 3u;
  return vec3f(row_byte(row, at), row_byte(row, at + 1u), row_byte(row, at + 2u));
}

// PyTorch's cubic convolution weights of the taps at -1, 0, 1, 2 for the fraction t.
fn cubic_weights(t: f32) -> vec4f {
  let a = CUBIC_A;
  let x0 = t + 1.0;
  let x3 = 2.0 - t;
  let s = 1.0 - t;
  return vec4f(
    ((a * x0 - 5.0 * a) * x0 + 8.0 * a) * x0 - 4.0 * a,
    ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0,
    ((a + 2.0) * s - (a + 3.0)) * s * s + 1.0,
    ((a * x3 - 5.0 * a) * x3 + 8.0 * a) * x3 - 4.0 * a,
  );
}

// Output pixel (ox, oy) of the resized (and flipped) crop of image b.
fn sample_crop(b: u32, image: ImageParams, ox: u32, oy: u32) -> vec3f {
  let size = f32(params.size);
  var column = ox;
  if (image.flip != 0u) {
    column = params.size - 1u - ox;
  }
  let real_x = image.crop_width / size * (f32(column) + 0.5) - 0.5;
  let real_y = image.crop_height / size * (f32(oy) + 0.5) - 0.5;
  let left = i32(image.left);
  let top = i32(image.top);
  let last_x = i32(image.crop_width) - 1;
  let last_y = i32(image.crop_height) - 1;
  if (params.interpolation == 0u) {
    let rx = max(real_x, 0.0);
    let ry = max(real_y, 0.0);
    let x0 = min(i32(floor(rx)), last_x);
    let y0 = min(i32(floor(ry)), last_y);
    let x1 = min(x0 + 1, last_x);
    let y1 = min(y0 + 1, last_y);
    let lx = clamp(rx - f32(x0), 0.0, 1.0);
    let ly = clamp(ry - f32(y0), 0.0, 1.0);
    let upper = row_words(b, left + x0, top + y0);
    let lower = row_words(b, left + x0, top + y1);
    let top_row = (1.0 - lx) * row_pixel(upper, left + x0) + lx * row_pixel(upper, left + x1);
    let bottom_row = (1.0 - lx) * row_pixel(lower, left + x0) + lx * row_pixel(lower, left + x1);
    return (1.0 - ly) * top_row + ly * bottom_row;
  }
  let fx = floor(real_x);
  let fy = floor(real_y);
  let wx = cubic_weights(real_x - fx);
  let wy = cubic_weights(real_y - fy);
  let ix = i32(fx);
  let iy = i32(fy);
  var total = vec3f(0.0);
  let first_x = left + clamp(ix - 1, 0, last_x);
  for (var k = 0; k < 4; k++) {
    let row = row_words(b, first_x, top + clamp(iy - 1 + k, 0, last_y));
    var sum = vec3f(0.0);
    for (var j = 0; j < 4; j++) {
      sum += wx[j] * row_pixel(row, left + clamp(ix - 1 + j, 0, last_x));
    }
    total += wy[k] * sum;
  }
  return clamp(total, vec3f(0.0), vec3f(1.0));
}

fn luma(color: vec3f) -> f32 {
  return dot(color, LUMA);
}

// torchvision's _blend: clamp(ratio * a + (1 - ratio) * b, 0, 1).
fn blend(a: vec3f, b: vec3f, ratio: f32) -> vec3f {
  return clamp(ratio * a + (1.0 - ratio) * b, vec3f(0.0), vec3f(1.0));
}

// torchvision's adjust_hue on floats: RGB -> HSV, hue shifted modulo 1, HSV -> RGB.
fn adjust_hue(color: vec3f, shift: f32) -> vec3f {
  let r = color.x;
  let g = color.y;
  let b = color.z;
  let maxc = max(max(r, g), b);
  let minc = min(min(r, g), b);
  let equal = maxc == minc;
  let chroma = maxc - minc;
  let s = chroma / select(maxc, 1.0, equal);
  let divisor = select(chroma, 1.0, equal);
  let rc = (maxc - r) / divisor;
  let gc = (maxc - g) / divisor;
  let bc = (maxc - b) / divisor;
  var h: f32;
  if (maxc == r) {
    h = bc - gc;
  } else if (maxc == g) {
    h = 2.0 + rc - bc;
  } else {
    h = 4.0 + gc - rc;
  }
  h = h / 6.0 + 1.0;
  h = h - floor(h);
  h = h + shift;
  h = h - floor(h);
  let v = maxc;
  let sector = floor(h * 6.0);
  let f = h * 6.0 - sector;
  let i = u32(sector) % 6u;
  let p = clamp(v * (1.0 - s), 0.0, 1.0);
  let q = clamp(v * (1.0 - s * f), 0.0, 1.0);
  let t = clamp(v * (1.0 - s * (1.0 - f)), 0.0, 1.0);
  switch i {
    case 0u: { return vec3f(v, t, p); }
    case 1u: { return vec3f(q, v, p); }
    case 2u: { return vec3f(p, v, t); }
    case 3u: { return vec3f(p, q, v); }
    case 4u: { return vec3f(t, p, v); }
    default: { return vec3f(v, p, q); }
  }
}

fn has_contrast(order: u32) -> bool {
  for (var position = 0u; position < 4u; position++) {
    let operation = (order >> (3u * position)) & 7u;
    if (operation == 2u) {
      return true;
    }
  }
  return false;
}

// The jitter operations in the drawn order; with stop_at_contrast, those before contrast only.
fn apply_jitter(color_in: vec3f, image: ImageParams, mean: f32, stop_at_contrast: bool) -> vec3f {
  var color = color_in;
  for (var position = 0u; position < 4u; position++) {
    let operation = (image.jitter_order >> (3u * position)) & 7u;
    if (operation == 0u || (operation == 2u && stop_at_contrast)) {
      break;
    }
    if (operation == 1u) {
      color = blend(color, vec3f(0.0), image.brightness);
    } else if (operation == 2u) {
      color = blend(color, vec3f(mean), image.contrast);
    } else if (operation == 3u) {
      color = blend(color, vec3f(luma(color)), image.saturation);
    } else {
      color = adjust_hue(color, image.hue);
    }
  }
  return color;
}

// Solarisation then normalisation of one channel value.
fn finish(value: f32, channel: u32, image: ImageParams) -> f32 {
  var v = value;
  if (image.solarize != 0u && v >= SOLARIZE_THRESHOLD) {
    v = 1.0 - v;
  }
  return (v - params.mean[channel]) / params.deviation[channel];
}

@compute @workgroup_size(REDUCE_SIZE)
fn contrast_mean(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) local: u32) {
  let b = group.x;
  let image = image_at(b);
  let size = params.size;
  let count = size * size;
  let contrast = has_contrast(image.jitter_order);
  var total = 0.0;
  for (var p = local; p < count; p += REDUCE_SIZE) {
    let sampled = sample_crop(b, image, p % size, p / size);
    let base = b * 3u * count + p;
    output[base] = sampled.x;
    output[base + count] = sampled.y;
    output[base + 2u * count] = sampled.z;
    if (contrast) {
      total += luma(apply_jitter(sampled, image, 0.0, true));
    }
  }
  partial[local] = total;
  workgroupBarrier();
  for (var stride = REDUCE_SIZE / 2u; stride > 0u; stride >>= 1u) {
    if (local < stride) {
      partial[local] += partial[local + stride];
    }
    workgroupBarrier();
  }
  if (local == 0u) {
    means[b] = partial[0] / f32(count);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn color(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  let size = params.size;
  let per_image = size * size;
  if (i >= params.batch * per_image) {
    return;
  }
  let b = i / per_image;
  let p = i % per_image;
  let image = image_at(b);
  let base = b * 3u * per_image + p;
  var value: vec3f;
  if (params.presampled != 0u) {
    value = vec3f(output[base], output[base + per_image], output[base + 2u * per_image]);
  } else {
    value = sample_crop(b, image, p % size, p / size);
  }
  value = apply_jitter(value, image, means[b], false);
  if (image.grayscale != 0u) {
    value = vec3f(luma(value));
  }
  for (var channel = 0u; channel < 3u; channel++) {
    var out = value[channel];
    if (params.finalize != 0u) {
      out = finish(out, channel, image);
    }
    output[base + channel * per_image] = out;
  }
}

// Gaussian of image b's sigma along x (rows) or y (columns) at flat element i of [b, 3, size, size].
fn gaussian(i: u32, along_columns: bool) -> f32 {
  let size = params.size;
  let per_image = size * size;
  let b = i / (3u * per_image);
  let image = image_at(b);
  let radius = i32(image.blur_radius);
  if (radius == 0) {
    return blur_input[i];
  }
  let p = i % per_image;
  let plane = i - p;
  let x = i32(p % size);
  let y = i32(p / size);
  let last = i32(size) - 1;
  let inverse_two_variance = 0.5 / (image.blur_sigma * image.blur_sigma);
  var total = 0.0;
  var weights = 0.0;
  for (var k = -radius; k <= radius; k++) {
    let weight = exp(-f32(k * k) * inverse_two_variance);
    var index: u32;
    if (along_columns) {
      index = plane + u32(clamp(y + k, 0, last)) * size + u32(x);
    } else {
      index = plane + u32(y) * size + u32(clamp(x + k, 0, last));
    }
    total += weight * blur_input[index];
    weights += weight;
  }
  return total / weights;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn blur_rows(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (i < params.batch * 3u * params.size * params.size) {
    blur_output[i] = gaussian(i, false);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn blur_columns(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  let per_image = params.size * params.size;
  if (i < params.batch * 3u * per_image) {
    let b = i / (3u * per_image);
    let channel = (i / per_image) % 3u;
    blur_output[i] = finish(gaussian(i, true), channel, image_at(b));
  }
}
