/**
 * Key maps, architecture inference, loading and bad checkpoints of src/io/pretrained/.
 */
import { assertEquals, assertRejects, assertThrows, assertTrue } from "../../helpers/assert.ts";
import { inferVitConfig } from "../../../src/io/pretrained/architecture.ts";
import { detectLayout, mapHuggingFaceKeys } from "../../../src/io/pretrained/layouts.ts";
import { loadModel, loadModelFromState } from "../../../src/io/pretrained/load.ts";
import { readCheckpoint } from "../../../src/io/pretrained/read.ts";
import { CheckpointError, readSafetensorsFile } from "../../../src/io/safetensors.ts";
import { type HostTensor, toFloat32 } from "../../../src/tensor/host.ts";
import { batchFeatures } from "../../../src/eval/features.ts";
import { VisionTransformer } from "../../../src/nn/vit.ts";
import { gpuTest } from "../../helpers/gpu_test.ts";
import { host, MODEL_FIXTURES, patternImages } from "../../helpers/parity.ts";

Deno.test("pretrained: layouts are recognised from the keys", async () => {
  const layouts: Record<string, string> = {
    "dino_vit16.pth": "dino",
    "dinov2_vit14.pth": "dinov2",
    "dinov2_vit14_reg4.pth": "dinov2",
    "timm_mixer16.pth": "timm-mixer",
    "hf_vit16": "hf-vit",
    "hf_dinov2_14": "hf-dinov2",
    "dino_training_checkpoint.pth": "timm-vit", // head.* present before the backbone filter
  };
  for (const [file, layout] of Object.entries(layouts)) {
    const { state, config } = await readCheckpoint(`${MODEL_FIXTURES}${file}`);
    const detected = detectLayout(state, config);
    if (file.startsWith("dino_training")) {
      // teacher keys: backbone. stripped, head.* kept until the ViT filter drops them
      assertTrue(state.has("head.last_layer.weight_v"), "head keys are read");
      assertTrue(state.has("cls_token"), "backbone. prefix stripped");
      continue;
    }
    assertEquals(detected, layout, file);
  }
});

Deno.test("pretrained: inference reads patch, depth, registers, SwiGLU, grid and heads", async () => {
  const { state } = await readCheckpoint(`${MODEL_FIXTURES}dinov2_vit14_reg4.pth`);
  const config = inferVitConfig(state, "dinov2", { heads: 2 });
  assertEquals(config.patchSize, 14);
  assertEquals(config.imageSize, 518);
  assertEquals(config.depth, 2);
  assertEquals(config.registers, 4);
  assertEquals(config.interpolation, "size-antialias");
  assertEquals(config.layerScaleInit, 1);
  assertEquals(config.maskToken, true);
  const swiglu = inferVitConfig(
    (await readCheckpoint(`${MODEL_FIXTURES}dinov2_swiglu.pth`)).state,
    "dinov2",
    {
      heads: 2,
    },
  );
  assertEquals(swiglu.feedForward, "swiglu");
  assertEquals(swiglu.feedForwardHidden, 88); // (int(128 * 2 / 3) + 7) // 8 * 8
  const dino = inferVitConfig(
    (await readCheckpoint(`${MODEL_FIXTURES}dino_vit16.pth`)).state,
    "dino",
    {
      heads: 2,
    },
  );
  assertEquals(dino.interpolation, "scale-offset");
  assertEquals(dino.imageSize, 224);
  // heads default to width / 64: a width of 32 cannot be split that way
  assertThrows(
    () => inferVitConfig(new Map([...state]), "dinov2"),
    CheckpointError,
    "pass --heads",
  );
  const wide = new Map(state);
  wide.set("patch_embed.proj.weight", host([128, 3, 14, 14]));
  wide.set("pos_embed", host([1, 1 + 37 * 37, 128]));
  assertEquals(inferVitConfig(wide, "dinov2").heads, 2);
});

Deno.test("pretrained: Hugging Face query/key/value are concatenated into qkv", () => {
  const state = new Map<string, HostTensor>();
  const dim = 2;
  const part = (value: number): HostTensor => ({
    dtype: "F32",
    shape: [dim, dim],
    data: new Float32Array(dim * dim).fill(value),
  });
  state.set("encoder.layer.0.attention.attention.query.weight", part(1));
  state.set("encoder.layer.0.attention.attention.key.weight", part(2));
  state.set("encoder.layer.0.attention.attention.value.weight", part(3));
  state.set("encoder.layer.0.layer_scale1.lambda1", host([dim]));
  state.set("encoder.layer.0.mlp.weights_in.weight", host([8, dim]));
  state.set("encoder.layer.0.layernorm_before.bias", host([dim]));
  state.set("pooler.dense.weight", host([dim, dim]));
  const { state: mapped, dropped } = mapHuggingFaceKeys(state);
  assertEquals([...toFloat32(mapped.get("blocks.0.attn.qkv.weight")!)], [
    1,
    1,
    1,
    1,
    2,
    2,
    2,
    2,
    3,
    3,
    3,
    3,
  ]);
  assertEquals(mapped.get("blocks.0.attn.qkv.weight")!.shape, [6, 2]);
  assertTrue(mapped.has("blocks.0.ls1.gamma"));
  assertTrue(mapped.has("blocks.0.mlp.w12.weight"));
  assertTrue(mapped.has("blocks.0.norm1.bias"));
  assertEquals(dropped, ["pooler.dense.weight"]);
  state.delete("encoder.layer.0.attention.attention.value.weight");
  assertThrows(() => mapHuggingFaceKeys(state, "x.safetensors"), CheckpointError, "missing value");
});

gpuTest(
  "pretrained: a DINO training checkpoint loads the teacher and drops the head",
  async () => {
    const loaded = await loadModel(`${MODEL_FIXTURES}dino_training_checkpoint.pth`, { heads: 2 });
    assertTrue(loaded.dropped.includes("head.last_layer.weight_g"), loaded.dropped.join(","));
    assertTrue(loaded.model instanceof VisionTransformer);
    const student = await loadModel(`${MODEL_FIXTURES}dino_training_checkpoint.pth`, {
      heads: 2,
      prefer: "student",
    });
    const images = patternImages(1, 224);
    const a = await batchFeatures(loaded.model, images).read() as Float32Array;
    const b = await batchFeatures(student.model, images).read() as Float32Array;
    assertTrue(a.some((value, i) => Math.abs(value - b[i]) > 1e-3), "teacher and student differ");
    images.dispose();
    loaded.model.dispose();
    student.model.dispose();
  },
);

gpuTest("pretrained: the interpolation variant matters (DINO at 320 px with size=)", async () => {
  const expected = toFloat32(
    (await readSafetensorsFile(`${MODEL_FIXTURES}dino_vit16_320.expected.safetensors`)).tensors.get(
      "features",
    )!,
  );
  const loaded = await loadModel(`${MODEL_FIXTURES}dino_vit16.pth`, {
    heads: 2,
    interpolation: "size",
  });
  const images = patternImages(1, 320);
  const actual = await batchFeatures(loaded.model, images).read() as Float32Array;
  let worst = 0;
  let scale = 0;
  expected.forEach((value, i) => {
    worst = Math.max(worst, Math.abs(value - actual[i]));
    scale = Math.max(scale, Math.abs(value));
  });
  assertTrue(worst > 1e-4 * scale, `the wrong variant should miss: ${worst} vs ${scale}`);
  images.dispose();
  loaded.model.dispose();
});

gpuTest("pretrained: unknown keys and inconsistent shapes are listed", async () => {
  const { state } = await readCheckpoint(`${MODEL_FIXTURES}dino_vit16.pth`);
  const extra = new Map(state);
  extra.set("blocks.0.attn.rope.freqs", host([4]));
  extra.set("something_else", host([2]));
  assertThrows(
    () => loadModelFromState(extra, { heads: 2, file: "bad.pth" }),
    CheckpointError,
    "unexpected keys: blocks.0.attn.rope.freqs, something_else",
  );
  const bent = new Map(state);
  bent.set("blocks.1.mlp.fc1.weight", host([100, 32]));
  bent.set("blocks.1.norm2.bias", host([31]));
  const error = assertThrows(
    () => loadModelFromState(bent, { heads: 2, file: "bent.pth" }),
    CheckpointError,
  );
  for (const part of ["bent.pth", "blocks.1.mlp.fc1.weight", "[100, 32]", "blocks.1.norm2.bias"]) {
    assertTrue(error.message.includes(part), `${part} in: ${error.message}`);
  }
  const noGrid = new Map(state);
  noGrid.set("pos_embed", host([1, 200, 32]));
  assertThrows(() => loadModelFromState(noGrid, { heads: 2 }), CheckpointError, "square grid");
  assertThrows(
    () => loadModelFromState(state, { heads: 2, arch: "mixer", file: "v.pth" }),
    CheckpointError,
    "not an MLP-Mixer checkpoint",
  );
});

Deno.test("pretrained: a truncated checkpoint gives an error naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const name of ["dino_vit16.pth", "hf_vit16/model.safetensors"]) {
      const bytes = await Deno.readFile(`${MODEL_FIXTURES}${name}`);
      const path = `${dir}/${name.replace("/", "_")}`;
      await Deno.writeFile(path, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      const error = await assertRejects(() => loadModel(path, { heads: 2 }), CheckpointError);
      assertTrue(error.message.includes(path), error.message);
    }
    await assertRejects(() => loadModel(`${dir}/missing.pth`), CheckpointError, "missing.pth");
    await assertRejects(() => loadModel(dir), CheckpointError, "without model.safetensors");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
