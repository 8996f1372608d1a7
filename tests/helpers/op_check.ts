/**
 * The one helper every op test uses (after tinygrad's `helper_test_op` and llm.c's checkers):
 * it runs an op on the GPU and checks the output's shape, its values against a float64 CPU
 * reference, and the gradient of every differentiable input against central finite differences
 * of that reference (in float64).
 * @module
 */
import { backward } from "../../src/tensor/backward.ts";
import { clearTape } from "../../src/tensor/tape.ts";
import { type Shape, shapeSize, type Tensor, tensor } from "../../src/tensor/tensor.ts";
import { Random } from "./random.ts";

/** One input of an op case. */
export interface InputSpec {
  /** Shape of the input. */
  shape: Shape;
  /** Values; default: standard normal draws from the case's seed. */
  values?: ArrayLike<number>;
  /** How to draw values when `values` is absent: normal, positive (0.5..2) or uniform (-1..1). */
  draw?: "normal" | "positive" | "uniform";
  /** Element type; non-f32 inputs never get gradients. */
  dtype?: "f32" | "i32" | "u32";
  /** Whether to check this input's gradient (default: true for f32). */
  grad?: boolean;
}

/** What an op case checks. */
export interface OpCase {
  /** Description used in failure messages. */
  name: string;
  /** The inputs. */
  inputs: InputSpec[];
  /** Runs the op on the GPU. */
  gpu: (...inputs: Tensor[]) => Tensor;
  /** The float64 CPU reference: flat inputs in, flat output out. */
  reference: (...inputs: Float64Array[]) => Float64Array;
  /** Expected output shape. */
  outputShape: Shape;
  /** Tolerances of the forward check: |gpu - ref| <= absolute + relative * |ref|. */
  tolerance?: { absolute?: number; relative?: number };
  /** Tolerances of the gradient check. */
  gradTolerance?: { absolute?: number; relative?: number };
  /** Skip the gradient check (ops without gradients). */
  noGrad?: boolean;
  /** Input elements probed by finite differences per input (random subset); default 40. */
  gradSamples?: number;
  /** Seed of the random draws. */
  seed?: number;
}

/** Float32 rounding of a float64 array (the values the GPU actually sees). */
function roundToF32(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

/** Throws with the first mismatches (index, got, expected) when arrays differ beyond tolerance. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  { absolute = 1e-5, relative = 1e-4 }: { absolute?: number; relative?: number } = {},
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  }
  const bad: string[] = [];
  let count = 0;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const difference = Math.abs(actual[i] - expected[i]);
    const allowed = absolute + relative * Math.abs(expected[i]);
    if (!(difference <= allowed)) {
      count++;
      worst = Math.max(worst, difference);
      if (bad.length < 6) bad.push(`  [${i}] got ${actual[i]}, expected ${expected[i]}`);
    }
  }
  if (count > 0) {
    throw new Error(
      `${what}: ${count} of ${actual.length} values differ (worst |diff| ${worst}, allowed ` +
        `${absolute} + ${relative} x |ref|):\n${bad.join("\n")}`,
    );
  }
}

/** Checks one op case: shape, forward values and gradients. */
export async function checkOp(testCase: OpCase): Promise<void> {
  const random = new Random(testCase.seed ?? 7);
  const hostInputs = testCase.inputs.map((spec) => {
    const count = shapeSize(spec.shape);
    if (spec.values) {
      if (spec.values.length !== count) {
        throw new Error(`${testCase.name}: input has ${spec.values.length} values for ${count}`);
      }
      return roundToF32(spec.values);
    }
    const draw = spec.draw ?? "normal";
    return roundToF32(
      Array.from(
        { length: count },
        () =>
          draw === "normal"
            ? random.normal()
            : draw === "positive"
            ? random.uniform(0.5, 2)
            : random.uniform(-1, 1),
      ),
    );
  });
  const tensors = testCase.inputs.map((spec, index) => {
    const input = tensor(hostInputs[index], spec.shape, spec.dtype ?? "f32");
    const wantsGrad = !testCase.noGrad && (spec.dtype ?? "f32") === "f32" && spec.grad !== false;
    input.requiresGrad = wantsGrad;
    return input;
  });
  try {
    const output = testCase.gpu(...tensors);
    if (JSON.stringify(output.shape) !== JSON.stringify(testCase.outputShape)) {
      throw new Error(
        `${testCase.name}: output shape [${output.shape}], expected [${testCase.outputShape}]`,
      );
    }
    const expected = testCase.reference(...hostInputs);
    assertClose(await output.read(), expected, `${testCase.name} forward`, testCase.tolerance);
    if (testCase.noGrad || !output.requiresGrad) {
      output.dispose();
      return;
    }
    // loss = sum(output * cotangent), cotangent drawn at random
    const cotangent = roundToF32(Array.from({ length: expected.length }, () => random.normal()));
    const cotangentTensor = tensor(cotangent, output.shape);
    backward(output, cotangentTensor);
    cotangentTensor.dispose();
    output.dispose();
    const lossAt = (inputs: Float64Array[]) => {
      const values = testCase.reference(...inputs);
      let sum = 0;
      for (let i = 0; i < values.length; i++) sum += values[i] * cotangent[i];
      return sum;
    };
    for (let index = 0; index < tensors.length; index++) {
      const input = tensors[index];
      if (!input.requiresGrad) continue;
      if (!input.grad) throw new Error(`${testCase.name}: input ${index} received no gradient`);
      const gpuGrad = await input.grad.read();
      const samples = Math.min(testCase.gradSamples ?? 40, input.size);
      const positions = samples === input.size
        ? Array.from({ length: input.size }, (_, i) => i)
        : Array.from({ length: samples }, () => random.int(input.size));
      const numeric: number[] = [];
      const analytic: number[] = [];
      for (const position of positions) {
        const original = hostInputs[index][position];
        const step = 1e-6 * Math.max(1, Math.abs(original));
        hostInputs[index][position] = original + step;
        const plus = lossAt(hostInputs);
        hostInputs[index][position] = original - step;
        const minus = lossAt(hostInputs);
        hostInputs[index][position] = original;
        numeric.push((plus - minus) / (2 * step));
        analytic.push(gpuGrad[position]);
      }
      assertClose(analytic, numeric, `${testCase.name} gradient of input ${index} (sampled)`, {
        absolute: 1e-4,
        relative: 1e-3,
        ...testCase.gradTolerance,
      });
    }
  } finally {
    clearTape();
    for (const input of tensors) {
      input.grad?.dispose();
      input.dispose();
    }
  }
}
