/**
 * The "subgroup", "tiled" and "shared_rows" fused attention kernels against the float64 reference,
 * each forced
 * through `attentionKernels.variant`: forward and gradients at short and ViT sequence lengths
 * (N = 17, 50, 197, 257) and head sizes 16, 32, 64 (odd ones, and past 64), separate q, k, v and
 * the packed qkv of `selfAttention`, custom scales and large scores.
 */
import { assertEquals } from "../helpers/assert.ts";
import { attentionVariant } from "../../src/ops/attention/choice.ts";
import { subgroupAttentionSupported } from "../../src/ops/attention/team_launch.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { attentionCase, selfAttentionCase, withVariant } from "../helpers/attention_cases.ts";

/** The cases every variant of this file runs. */
async function variantCases(variant: "subgroup" | "tiled" | "shared_rows") {
  await withVariant(variant, async () => {
    assertEquals(attentionVariant(197, 64), variant);
    await attentionCase([1, 1, 1, 1], {});
    await attentionCase([1, 2, 7, 5], { seed: 201 }); // head size not a multiple of 4
    await attentionCase([2, 2, 17, 16], { seed: 202 });
    await attentionCase([1, 2, 50, 32], { scale: 0.3, seed: 203 });
    await attentionCase([1, 1, 40, 16], { scale: 30, grad: false, seed: 204 }); // large scores
    await attentionCase([1, 2, 197, 64], { grad: false, seed: 205 });
    await attentionCase([1, 1, 257, 64], { grad: false, seed: 206 });
    await selfAttentionCase([2, 17, 3, 16], { seed: 207, gradSamples: 40 });
    await selfAttentionCase([1, 50, 2, 64], { seed: 208, gradSamples: 40 });
    await selfAttentionCase([1, 197, 6, 64], { grad: false, seed: 209, gradSamples: 40 });
  });
}

gpuTest("attention: the subgroup kernels match float64, forward and gradients", async () => {
  if (!subgroupAttentionSupported()) {
    console.log("  no subgroups of 8 on this device: the subgroup kernels are not run");
    return;
  }
  await variantCases("subgroup");
  await withVariant("subgroup", async () => {
    await attentionCase([1, 1, 33, 128], { seed: 212 }); // 4 vec4 columns per lane
    await attentionCase([1, 1, 21, 101], { seed: 213 }); // 4, the last partly past d
  });
});

gpuTest("attention: the tiled kernels match float64, forward and gradients", async () => {
  await variantCases("tiled");
  await withVariant("tiled", async () => {
    await attentionCase([1, 1, 19, 101], { seed: 210 }); // head size past 64: a smaller tile
    await attentionCase([1, 1, 40, 128], { grad: false, seed: 211 });
  });
});

gpuTest("attention: the shared_rows kernels match float64, forward and gradients", async () => {
  if (!subgroupAttentionSupported()) {
    console.log("  no subgroups of 8 on this device: the shared_rows kernels are not run");
    return;
  }
  await variantCases("shared_rows");
  await withVariant("shared_rows", async () => {
    await attentionCase([1, 1, 33, 128], { seed: 214 }); // the largest head size: 32 vec4s a row
    await attentionCase([1, 1, 21, 101], { seed: 215 }); // the last vec4 partly past d
  });
});
