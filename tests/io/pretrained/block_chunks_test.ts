/**
 * DINOv2 training checkpoints with chunked blocks (`blocks.C.N.*`, `block_chunks` > 0): the fixture
 * of tools/make_block_chunks_fixture.py (SSLMetaArch's state dict under `model`, teacher. and
 * student. prefixes, DINO and iBOT heads) reads with plain block names, loads through `loadModel`
 * and `loadModelFromBytes`, and gives PyTorch's features; inconsistent chunks are refused.
 */
import { assertEquals, assertThrows, assertTrue } from "../../helpers/assert.ts";
import { unchunkBlockKeys } from "../../../src/io/pretrained/layouts.ts";
import { loadModel, loadModelFromState } from "../../../src/io/pretrained/load.ts";
import { loadModelFromBytes, readWeights } from "../../../src/io/pretrained/bytes.ts";
import { readCheckpoint } from "../../../src/io/pretrained/read.ts";
import { CheckpointError, readSafetensorsFile } from "../../../src/io/safetensors.ts";
import { type HostTensor, toFloat32 } from "../../../src/tensor/host.ts";
import { batchFeatures } from "../../../src/eval/features.ts";
import { VisionTransformer } from "../../../src/nn/vit.ts";
import { noGrad } from "../../../src/tensor/tape.ts";
import { gpuTest } from "../../helpers/gpu_test.ts";
import { host, MODEL_FIXTURES, patternImages, readAndCompare } from "../../helpers/parity.ts";

const WEIGHTS = `${MODEL_FIXTURES}dinov2_block_chunks.pth`;
const SIZE = 16;

/** A state dict whose block keys are `blocks.C.N.norm1.weight` for the given [C, N] pairs. */
function chunked(pairs: [number, number][]): Map<string, HostTensor> {
  const state = new Map<string, HostTensor>([["cls_token", host([1, 1, 4])]]);
  for (const [chunk, block] of pairs) {
    state.set(`blocks.${chunk}.${block}.norm1.weight`, host([4], block));
  }
  return state;
}

Deno.test("block chunks: the trainer's checkpoint reads with blocks.N.* names", async () => {
  const teacher = await readCheckpoint(WEIGHTS);
  const keys = [...teacher.state.keys()];
  for (let block = 0; block < 4; block++) {
    assertTrue(teacher.state.has(`blocks.${block}.attn.qkv.weight`), `block ${block}`);
  }
  assertTrue(!keys.some((key) => /^blocks\.\d+\.\d+\./.test(key)), keys.join(", "));
  assertTrue(!keys.some((key) => /^(teacher|student)\./.test(key)), "one network only");
  assertTrue(!keys.includes("dino_loss.center"), "loss buffers left out");
  assertTrue(teacher.state.has("dino_head.last_layer.weight_v"), "heads kept for distillation");
  assertTrue(teacher.state.has("ibot_head.mlp.0.weight"));
  const student = await readCheckpoint(WEIGHTS, { prefer: "student" });
  assertEquals([...student.state.keys()], keys);
  const a = toFloat32(teacher.state.get("blocks.3.mlp.fc2.weight")!);
  const b = toFloat32(student.state.get("blocks.3.mlp.fc2.weight")!);
  assertTrue(a.some((value, i) => value !== b[i]), "teacher and student are different networks");
  const fromBytes = await readWeights(await Deno.readFile(WEIGHTS), { name: "chunks.pth" });
  assertEquals([...fromBytes.state.keys()], keys);
  assertEquals(fromBytes.layout, "dinov2");
  assertEquals(fromBytes.width, 16);
});

Deno.test("block chunks: blocks.C.N.* is renamed only when every block key is chunked", () => {
  const renamed = unchunkBlockKeys(chunked([[0, 0], [0, 1], [1, 2], [1, 3]]));
  assertEquals([...renamed.keys()], [
    "cls_token",
    "blocks.0.norm1.weight",
    "blocks.1.norm1.weight",
    "blocks.2.norm1.weight",
    "blocks.3.norm1.weight",
  ]);
  assertEquals([...toFloat32(renamed.get("blocks.2.norm1.weight")!)], [2, 2, 2, 2]);
  // uneven chunks (depth 5, block_chunks 2: chunk size 2 gives 3 chunks) are fine
  assertEquals(unchunkBlockKeys(chunked([[0, 0], [0, 1], [1, 2], [1, 3], [2, 4]])).size, 6);
  // plain ViT and Mixer names, and three integer levels, are left as they are
  const plain = new Map<string, HostTensor>([
    ["blocks.0.norm1.weight", host([4])],
    ["blocks.1.mlp_tokens.fc1.weight", host([2, 2])],
    ["blocks.2.0.1.weight", host([2])],
  ]);
  assertTrue(unchunkBlockKeys(plain) === plain, "unchanged");
});

Deno.test("block chunks: inconsistent chunks are a CheckpointError naming them", () => {
  const cases: [[number, number][], string[]][] = [
    [[[0, 0], [0, 1], [1, 1], [1, 2]], ["block 1 appears in chunks 0 and 1", "blocks.1.1"]],
    [[[0, 0], [0, 1], [1, 3]], ["block 2 of 0-3 is in no chunk", "chunk 0: blocks 0-1"]],
    [[[0, 0], [1, 1], [3, 2]], ["chunk 2 of blocks.C.N.* is missing", "chunks 0, 1, 3"]],
    [[[0, 0], [0, 2], [1, 1], [1, 3]], ["chunk 0 holds block 2 where block 1 comes next"]],
    [[[0, 0], [0, 1], [1, 0], [1, 1]], ["block 0 appears in chunks 0 and 1", "whole model"]],
  ];
  for (const [pairs, parts] of cases) {
    const error = assertThrows(() => unchunkBlockKeys(chunked(pairs), "bad.pth"), CheckpointError);
    for (const part of ["bad.pth: ", ...parts]) {
      assertTrue(error.message.includes(part), `${part} in: ${error.message}`);
    }
  }
  const mixed = chunked([[0, 0], [0, 1]]);
  mixed.set("blocks.2.norm1.weight", host([4]));
  assertThrows(
    () => unchunkBlockKeys(mixed, "mixed.pth"),
    CheckpointError,
    "mixed.pth: block keys mix the chunked layout blocks.C.N.* (e.g. blocks.0.0.norm1.weight) " +
      "with others (e.g. blocks.2.norm1.weight)",
  );
  // loading goes through the same check
  assertThrows(
    () => loadModelFromState(chunked([[0, 0], [1, 2]]), { heads: 2, file: "gap.pth" }),
    CheckpointError,
    "gap.pth: block 1 of 0-2 is in no chunk",
  );
});

gpuTest("block chunks: teacher and student give PyTorch's features", async () => {
  const reference = (await readSafetensorsFile(
    `${MODEL_FIXTURES}dinov2_block_chunks.expected.safetensors`,
  )).tensors;
  const images = patternImages(2, SIZE);
  const teacher = await loadModel(WEIGHTS, { heads: 2 });
  assertEquals(teacher.layout, "dinov2");
  assertTrue(teacher.model instanceof VisionTransformer);
  assertEquals(teacher.model.config.depth, 4);
  for (const key of ["dino_head.last_layer.weight_v", "ibot_head.mlp.2.bias"]) {
    assertTrue(teacher.dropped.includes(key), `${key} dropped: ${teacher.dropped.join(", ")}`);
  }
  await readAndCompare("teacher", batchFeatures(teacher.model, images), reference.get("teacher")!);
  const model = teacher.model as VisionTransformer;
  const rows = noGrad(() => model.lastSelfAttention(images));
  await readAndCompare("teacher attention", rows, reference.get("teacher_attention")!);
  teacher.model.dispose();
  const student = await loadModelFromBytes(await Deno.readFile(WEIGHTS), {
    name: "chunks.pth",
    prefer: "student",
    heads: 2,
  });
  await readAndCompare("student", batchFeatures(student.model, images), reference.get("student")!);
  student.model.dispose();
  images.dispose();
});
