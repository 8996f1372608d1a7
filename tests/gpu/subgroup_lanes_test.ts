import { gpu } from "../../src/gpu/device.ts";
import { checkSubgroupLanes, SUBGROUP_MATMUL_WIDTHS } from "../../src/gpu/subgroup_lanes.ts";
import { hasSubgroupsOfEight } from "../../src/ops/matmul/variants.ts";
import { defaultMatmulVariant } from "../../src/ops/matmul/choice.ts";
import { assertEquals, assertTrue as assert } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { sharedProduct } from "../helpers/matmul_problem.ts";

gpuTest(
  "subgroup lanes: the start-up check passes here and fails for lanes out of order",
  async () => {
    const device = gpu();
    if (!device.has("subgroups")) {
      console.log("subgroup lanes: skipped (the adapter has no subgroups feature)");
      assertEquals(device.subgroupLanesInOrder, false);
      return;
    }
    const report = await checkSubgroupLanes(device);
    assertEquals(report.inOrder, device.subgroupLanesInOrder);
    assert(report.subgroupSize >= 1, `subgroup size ${report.subgroupSize}`);
    if (report.subgroupSize % 8 === 0) {
      // lavapipe (8 lanes) and the GPUs seen so far keep lanes in local order
      assertEquals(report, {
        inOrder: true,
        brokenInvocations: 0,
        subgroupSize: report.subgroupSize,
      });
    }
    // shifting the local index by 4 splits every aligned group of 8 lanes across two blocks
    const shifted = await checkSubgroupLanes(device, SUBGROUP_MATMUL_WIDTHS, 4);
    const invocations = 4 * SUBGROUP_MATMUL_WIDTHS.reduce((sum, width) => sum + width, 0);
    assertEquals(shifted.inOrder, false);
    assert(
      shifted.brokenInvocations > 0 && shifted.brokenInvocations <= invocations,
      `broken ${shifted.brokenInvocations} of ${invocations}`,
    );
  },
);

gpuTest("subgroup lanes: the matmul leaves the subgroup kernel where the check failed", () => {
  const device = gpu();
  const problem = sharedProduct(1024, 1024, 1024);
  const before = device.subgroupLanesInOrder;
  try {
    device.subgroupLanesInOrder = false;
    assertEquals(hasSubgroupsOfEight(), false);
    assert(
      !defaultMatmulVariant(problem).name.startsWith("subgroup"),
      defaultMatmulVariant(problem).name,
    );
  } finally {
    device.subgroupLanesInOrder = before;
  }
  // (on a GPU the default is a vec4 kernel either way: defaultMatmulVariant)
  if (device.has("subgroups") && before && device.softwareAdapter) {
    assert(
      defaultMatmulVariant(problem).name.startsWith("subgroup"),
      defaultMatmulVariant(problem).name,
    );
  }
});
