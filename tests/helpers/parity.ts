/**
 * What the parity tests against PyTorch share: the closed-form input of the fixture scripts
 * (tools/make_model_fixtures.py, tools/make_dinov3_fixtures.py, tools/make_block_chunks_fixture.py)
 * and the tolerance max |diff| <= 1e-4 x max |reference|; constant host tensors for state dicts.
 * @module
 */
import { type HostTensor, toFloat32 } from "../../src/tensor/host.ts";
import { type Shape, type Tensor, tensor } from "../../src/tensor/tensor.ts";
import { assertEquals, assertTrue } from "./assert.ts";

/** The folder of the model fixtures the scripts above write (with a trailing slash). */
export const MODEL_FIXTURES = new URL("../fixtures/models/", import.meta.url).pathname;

/** The fixture scripts' `pattern` input, [B, 3, H, W] (square where `width` is left out). */
export function pattern(batch: number, height: number, width = height): Float32Array {
  const out = new Float32Array(batch * 3 * height * width);
  let i = 0;
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < 3; c++) {
      for (let h = 0; h < height; h++) {
        for (let w = 0; w < width; w++) {
          out[i++] = Math.sin(0.11 * h + 0.07 * w + 1.3 * c + 0.5 * b) +
            0.5 * Math.cos(0.013 * h * w / (1 + b) + 0.7 * c);
        }
      }
    }
  }
  return out;
}

/** `pattern` as a [B, 3, H, W] tensor. */
export function patternImages(batch: number, height: number, width = height): Tensor {
  return tensor(pattern(batch, height, width), [batch, 3, height, width]);
}

/**
 * Asserts as many values as the reference and max |diff| <= 1e-4 x max |reference| (a reference
 * of all zeros fails); returns [max |diff|, max |reference|] for a report.
 */
export function compareToReference(
  what: string,
  actual: Float32Array,
  expected: Float32Array,
): [number, number] {
  assertEquals(actual.length, expected.length, `${what}: value count`);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  assertTrue(scale > 0, `${what}: reference is all zeros`);
  assertTrue(
    worst <= 1e-4 * scale,
    `${what}: max |diff| ${worst.toExponential(3)} > 1e-4 x max |ref| ${scale.toExponential(3)}`,
  );
  return [worst, scale];
}

/** Reads `actual` (then disposes it) and compares it with `expected` as `compareToReference` does. */
export async function readAndCompare(
  what: string,
  actual: Tensor,
  expected: HostTensor,
): Promise<[number, number]> {
  const values = await actual.read() as Float32Array;
  actual.dispose();
  return compareToReference(what, values, toFloat32(expected));
}

/** A float32 host tensor of `shape` filled with `fill`. */
export function host(shape: number[], fill = 0.5): HostTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return { dtype: "F32", shape, data: new Float32Array(size).fill(fill) };
}

/** The first `queries` rows of each head's attention map in `all`, [B, H, N, N] row-major. */
export function firstQueryRows(all: Float32Array, shape: Shape, queries: number): Float32Array {
  const [batch, heads, tokens] = shape;
  const picked = new Float32Array(batch * heads * queries * tokens);
  for (let bh = 0; bh < batch * heads; bh++) {
    picked.set(
      all.subarray(bh * tokens * tokens, bh * tokens * tokens + queries * tokens),
      bh * queries * tokens,
    );
  }
  return picked;
}
