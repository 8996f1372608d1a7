/**
 * Which fused attention kernels "auto" picks (src/ops/attention/choice.ts): per sequence length and
 * head size, on a software adapter and on a GPU.
 */
import { assertEquals } from "../helpers/assert.ts";
import { gpu } from "../../src/gpu/device.ts";
import { attentionKernels, attentionVariant } from "../../src/ops/attention/choice.ts";
import { subgroupAttentionSupported } from "../../src/ops/attention/team_launch.ts";
import { asHardwareAdapter, gpuTest } from "../helpers/gpu_test.ts";
import { withKernels } from "../helpers/attention_cases.ts";

gpuTest("attention: auto picks the rows kernels for short sequences only", async () => {
  await withKernels("auto", 256, () => {
    const long = subgroupAttentionSupported() ? "subgroup" : "blocked";
    const short = subgroupAttentionSupported() ? "shared_rows" : "rows";
    assertEquals(attentionVariant(17, 16), short); // Fashion-MNIST ViT
    assertEquals(attentionVariant(65, 16), short);
    assertEquals(attentionVariant(17, 64), short);
    // on a software adapter shared_rows reaches further than rows (up to 1025 tokens x 64, not
    // 1152); on a GPU up to 50 x 64 (the next test)
    if (!gpu().softwareAdapter) return Promise.resolve();
    const sharedOrLong = subgroupAttentionSupported() ? "shared_rows" : long;
    assertEquals(attentionVariant(50, 64), sharedOrLong);
    assertEquals(attentionVariant(197, 3), sharedOrLong);
    assertEquals(attentionVariant(197, 64), sharedOrLong); // ViT-S/16
    assertEquals(attentionVariant(1025, 64), sharedOrLong); // ViT-S/16 at 512 px
    assertEquals(attentionVariant(1026, 64), long);
    assertEquals(attentionVariant(4101, 3), long); // head size counted as 16
    attentionKernels.variant = "blocked"; // a named variant overrides the choice
    assertEquals(attentionVariant(17, 16), "blocked");
    return Promise.resolve();
  });
});

gpuTest(
  "attention: on a GPU auto keeps shared_rows to short sequences",
  () =>
    asHardwareAdapter(() =>
      withKernels("auto", 256, () => {
        const long = subgroupAttentionSupported() ? "subgroup" : "blocked";
        const short = subgroupAttentionSupported() ? "shared_rows" : "rows";
        assertEquals(attentionVariant(17, 64), short);
        assertEquals(attentionVariant(50, 64), subgroupAttentionSupported() ? "shared_rows" : long);
        assertEquals(attentionVariant(51, 64), long);
        assertEquals(attentionVariant(197, 64), long); // ViT-S/16
        return Promise.resolve();
      })
    ),
);
