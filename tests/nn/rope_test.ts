// DINOv3's RoPE coordinate augmentation (rope_position_encoding.py in training mode): the
// perturbed table against the formula, the draws within their ranges, and a ViT that perturbs its
// coordinates in training only.
import assert from "node:assert";
import { drawRopeTransform, ropeTable } from "../../src/nn/rope.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import { Random } from "../../src/tensor/random.ts";
import { readAll, tensor } from "../../src/tensor/tensor.ts";
import { assertEquals } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { TINY_VIT } from "../helpers/tiny_dino.ts";

Deno.test("rope: a coordinate transform moves every angle as (c + shift) * scale", () => {
  const periods = [1, 10];
  const transform = {
    shift: [0.1, -0.2] as [number, number],
    scale: [1.5, 0.7] as [number, number],
  };
  const table = ropeTable(periods, 2, 3, transform);
  for (let y = 0; y < 2; y++) {
    for (let x = 0; x < 3; x++) {
      const cy = ((y + 0.5) / 2 * 2 - 1 + 0.1) * 1.5;
      const cx = ((x + 0.5) / 3 * 2 - 1 - 0.2) * 0.7;
      const angles = [cy / 1, cy / 10, cx / 1, cx / 10].map((c) => 2 * Math.PI * c);
      const at = (y * 3 + x) * 8;
      for (let j = 0; j < 4; j++) {
        assert(Math.abs(table[at + j] - Math.cos(angles[j])) < 1e-5, `cos ${y},${x},${j}`);
        assert(Math.abs(table[at + 4 + j] - Math.sin(angles[j])) < 1e-5, `sin ${y},${x},${j}`);
      }
    }
  }
  // the identity transform is the plain table
  assertEquals(
    Array.from(ropeTable(periods, 3, 2, { shift: [0, 0], scale: [1, 1] })),
    Array.from(ropeTable(periods, 3, 2)),
  );
});

Deno.test("rope: draws stay in their ranges; rescale scales both axes alike", () => {
  const random = new Random(7);
  const uniform = () => random.next();
  for (let i = 0; i < 200; i++) {
    const rescaled = drawRopeTransform({ rescale: 2 }, uniform);
    assertEquals(rescaled.shift, [0, 0]);
    assertEquals(rescaled.scale[0], rescaled.scale[1]);
    assert(rescaled.scale[0] >= 0.5 && rescaled.scale[0] <= 2, `rescale ${rescaled.scale[0]}`);
    const moved = drawRopeTransform({ shift: 0.3, jitter: 1.5 }, uniform);
    for (const axis of [0, 1]) {
      assert(Math.abs(moved.shift[axis]) <= 0.3, `shift ${moved.shift[axis]}`);
      assert(moved.scale[axis] >= 1 / 1.5 && moved.scale[axis] <= 1.5, `jitter ${moved.scale}`);
    }
  }
  assertEquals(drawRopeTransform({}, uniform), { shift: [0, 0], scale: [1, 1] });
});

gpuTest("rope: a ViT perturbs its coordinates in training mode only", async () => {
  const vit = new VisionTransformer({
    ...TINY_VIT,
    positionEmbedding: "rope",
    ropeAugmentation: { rescale: 2 },
    seed: 3,
  });
  using images = tensor(new Float32Array(3 * 16 * 16).map((_, i) => Math.sin(i * 0.1)), [
    1,
    3,
    16,
    16,
  ]);
  const patchesOf = async () => {
    const { cls, patches } = vit.forward(images);
    const [values] = await readAll([patches]);
    cls.dispose();
    patches.dispose();
    return Array.from(values);
  };
  vit.eval();
  const evaluation = [await patchesOf(), await patchesOf()];
  assertEquals(evaluation[0], evaluation[1]);
  vit.train();
  const training = [await patchesOf(), await patchesOf()];
  assert(training[0].some((v, i) => v !== training[1][i]), "two training passes drew alike");
  assert(training[0].some((v, i) => v !== evaluation[0][i]), "training equals evaluation");
  vit.dispose();
});
