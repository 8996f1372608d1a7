/**
 * The patch convolution of src/nn/vit.ts against a float64 convolution (kernel = stride = patch),
 * with finite-difference gradients of images, weight and bias; patch lengths that are and are not
 * multiples of 4 (3 x 7 x 7 = 147 is padded with zero columns to reach the vec4 matmul kernels).
 */
import { ConvProjection } from "../../src/nn/vit_block.ts";
import { Random } from "../../src/tensor/random.ts";
import type { Shape, Tensor } from "../../src/tensor/tensor.ts";
import { checkOp } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

/** A patch convolution whose weight and bias are the test's inputs. */
class ProjectionUnderTest extends ConvProjection {
  constructor(patch: number, channels: number, out: number, weight: Tensor, bias: Tensor) {
    super(patch, channels, out, new Random(0));
    this.replaceParameter("weight", weight);
    this.replaceParameter("bias", bias);
  }
}

/** out[b, gy * gw + gx, d] = bias[d] + sum over c, ky, kx of weight[d, c, ky, kx] * pixel. */
function convolutionReference(
  images: Float64Array,
  weight: Float64Array,
  bias: Float64Array,
  shape: Shape,
  patch: number,
  out: number,
): Float64Array {
  const [batch, channels, height, width] = shape;
  const gridHeight = height / patch;
  const gridWidth = width / patch;
  const result = new Float64Array(batch * gridHeight * gridWidth * out);
  let i = 0;
  for (let b = 0; b < batch; b++) {
    for (let gy = 0; gy < gridHeight; gy++) {
      for (let gx = 0; gx < gridWidth; gx++) {
        for (let d = 0; d < out; d++) {
          let sum = bias[d];
          for (let c = 0; c < channels; c++) {
            for (let ky = 0; ky < patch; ky++) {
              for (let kx = 0; kx < patch; kx++) {
                sum += weight[((d * channels + c) * patch + ky) * patch + kx] *
                  images[((b * channels + c) * height + gy * patch + ky) * width + gx * patch + kx];
              }
            }
          }
          result[i++] = sum;
        }
      }
    }
  }
  return result;
}

gpuTest("vit: patch convolution matches a float64 convolution, gradients included", async () => {
  const cases: { shape: Shape; patch: number; out: number }[] = [
    { shape: [2, 3, 14, 21], patch: 7, out: 8 }, // patch length 147: padded to 148
    { shape: [3, 1, 10, 10], patch: 5, out: 12 }, // 25: padded to 28
    { shape: [2, 3, 8, 8], patch: 4, out: 8 }, // 48: no padding
  ];
  for (const { shape, patch, out } of cases) {
    const [batch, channels, height, width] = shape;
    await checkOp({
      name: `patch convolution ${shape} patch ${patch} -> ${out}`,
      inputs: [
        { shape },
        { shape: [out, channels, patch, patch] },
        { shape: [out] },
      ],
      gpu: (images, weight, bias) =>
        new ProjectionUnderTest(patch, channels, out, weight, bias).forward(images),
      reference: (images, weight, bias) =>
        convolutionReference(images, weight, bias, shape, patch, out),
      outputShape: [batch, (height / patch) * (width / patch), out],
      tolerance: { absolute: 1e-4, relative: 1e-4 },
      gradTolerance: { absolute: 1e-3, relative: 1e-3 },
    });
  }
});
