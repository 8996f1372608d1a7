/**
 * `layerNorm` with `savedInput: "f16"` (mixed precision: the backward keeps x as an f16 copy): the
 * same output; on inputs f16 holds exactly, the same gradients as with x kept in f32 (the row
 * statistics are the exact ones either way); on others within f16's rounding of x.
 */
import { assertEquals, assertTrue as assert } from "../helpers/assert.ts";
import { toF16Reference } from "../../src/ops/cast/reference.ts";
import { mul } from "../../src/ops/elementwise/forward.ts";
import { layerNorm } from "../../src/ops/normalization/forward.ts";
import { meanAll } from "../../src/ops/reduction/forward.ts";
import { backward } from "../../src/tensor/backward.ts";
import { tapeNodes } from "../../src/tensor/tape.ts";
import { readAll, tensor } from "../../src/tensor/tensor.ts";
import { assertClose } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

/** Gradients of x, weight and bias of a weighted sum of layerNorm(x) with x kept as `saved`. */
async function layerNormGrads(values: number[], saved: "f32" | "f16") {
  const random = new Random(2);
  const [rows, length] = [6, 96];
  const x = tensor(values, [rows, length]);
  const weight = tensor(Array.from({ length }, () => 1 + 0.3 * random.normal()), [length]);
  const bias = tensor(Array.from({ length }, () => random.normal()), [length]);
  const mix = tensor(Array.from({ length: rows * length }, () => random.normal()), [rows, length]);
  for (const t of [x, weight, bias]) t.requiresGrad = true;
  const output = layerNorm(x, weight, bias, 1e-6, { savedInput: saved });
  const kept = tapeNodes().at(-1)!.saved[0];
  assertEquals(kept.dtype, saved, "what the tape keeps of x");
  const outputValues = await output.read();
  backward(meanAll(mul(output, mix)));
  return { output: outputValues, grads: await readAll([x.grad!, weight.grad!, bias.grad!]) };
}

gpuTest(
  "layerNorm savedInput f16: same output; exact f16 inputs give the same gradients",
  async () => {
    const random = new Random(1);
    // a residual-stream-like row: an offset and a spread
    const raw = Array.from({ length: 6 * 96 }, (_, i) => 3 * Math.sin(i) + random.normal());
    const exact = Array.from(toF16Reference(raw));
    const full = await layerNormGrads(exact, "f32");
    const half = await layerNormGrads(exact, "f16");
    assertEquals(Array.from(half.output), Array.from(full.output), "output");
    for (const [index, what] of ["x", "weight", "bias"].entries()) {
      assertEquals(
        Array.from(half.grads[index]),
        Array.from(full.grads[index]),
        `gradient of ${what}`,
      );
    }
    // values f16 does not hold: within its rounding of x (relative 2^-11 of |x| / std)
    const roughFull = await layerNormGrads(raw, "f32");
    const roughHalf = await layerNormGrads(raw, "f16");
    for (const [index, what] of ["x", "weight", "bias"].entries()) {
      const expected = roughFull.grads[index];
      const scale = Math.max(...Array.from(expected, Math.abs));
      assertClose(roughHalf.grads[index], expected, `gradient of ${what}`, {
        absolute: 5e-3 * scale,
        relative: 0,
      });
    }
    assert(
      Array.from(roughHalf.grads[0]).some((value, i) => value !== roughFull.grads[0][i]),
      "inexact inputs change the x gradient (the f16 copy is what the backward read)",
    );
  },
);
