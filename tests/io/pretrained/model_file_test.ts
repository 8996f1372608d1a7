/**
 * dinogpu's own weight files (src/io/pretrained/model_file.ts) read back by `loadModel`: a Mixer grown by the
 * resolution curriculum keeps its token order through `token_grids`.
 */
import { join } from "node:path";
import { loadModel, loadModelFromState } from "../../../src/io/pretrained/load.ts";
import {
  applyTokenGrids,
  modelFileMetadata,
  parseTokenGrids,
  TOKEN_GRIDS_KEY,
} from "../../../src/io/pretrained/model_file.ts";
import { CheckpointError, writeSafetensors } from "../../../src/io/safetensors.ts";
import { type HostTensor, hostTensorOf } from "../../../src/tensor/host.ts";
import { Mlp } from "../../../src/nn/layers.ts";
import { MlpMixer } from "../../../src/nn/mixer.ts";
import { Random } from "../../../src/tensor/random.ts";
import { readAll, tensor } from "../../../src/tensor/tensor.ts";
import { blockTokenOrder } from "../../../src/nn/mixer.ts";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "../../helpers/assert.ts";
import { gpuTest } from "../../helpers/gpu_test.ts";

/** A tiny Mixer as if grown from 8 px to 16 px images with 4 px patches (grids 2 -> 4). */
function grownMixer(): MlpMixer {
  const mixer = new MlpMixer({
    imageSize: 16,
    patchSize: 4,
    embedDim: 8,
    depth: 2,
    tokenHidden: 8,
    channelHidden: 16,
    seed: 5,
  });
  // growth multiplies the token-mixing hidden width (8 -> 4 x 8), which config.tokenHidden keeps
  const random = new Random(7);
  for (const block of mixer.blocks) block.setTokenMixing(new Mlp(16, 32, random), 16);
  mixer.setTokenOrder([2, 4], blockTokenOrder([2, 4]));
  mixer.eval();
  return mixer;
}

/** The backbone's tensors under `prefix`, as a run writes them. */
async function hostState(mixer: MlpMixer, prefix: string): Promise<Map<string, HostTensor>> {
  const named = mixer.namedParameters();
  const values = await readAll(named.map(([, value]) => value));
  const state = new Map<string, HostTensor>();
  named.forEach(([name, value], index) => {
    state.set(prefix + name, hostTensorOf(value.dtype, value.shape, values[index]));
  });
  return state;
}

async function features(mixer: MlpMixer, images: Float32Array): Promise<Float32Array> {
  const input = tensor(images, [2, 3, 16, 16]);
  const { pooled, tokens } = mixer.forward(input);
  const [host] = await readAll([pooled]);
  for (const t of [input, pooled, tokens]) t.dispose();
  return host as Float32Array;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assertEquals(a.length, b.length, "feature lengths");
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

const images = Float32Array.from(
  { length: 2 * 3 * 16 * 16 },
  (_, i) => Math.sin(i * 0.37) + 0.5 * Math.cos(i * 0.011),
);

gpuTest("model file: a grown Mixer's token order survives save and loadModel", async () => {
  const dir = await Deno.makeTempDir();
  const original = grownMixer();
  try {
    const expected = await features(original, images);
    const metadata: Record<string, string> = {
      format: "dinogpu-dino-checkpoint",
      ...modelFileMetadata(original),
    };
    assertEquals(JSON.parse(metadata[TOKEN_GRIDS_KEY]), [2, 4]);
    // a training checkpoint folder (student and teacher, `latest` pointer), as saveCheckpoint writes
    const run = join(dir, "run");
    await Deno.mkdir(join(run, "step-00000003"), { recursive: true });
    const tensors = new Map([
      ...await hostState(original, "student.backbone."),
      ...await hostState(original, "teacher.backbone."),
    ]);
    await Deno.writeFile(
      join(run, "step-00000003", "checkpoint.safetensors"),
      writeSafetensors(tensors, metadata),
    );
    await Deno.writeTextFile(join(run, "latest"), "step-00000003\n");
    const loaded = await loadModel(run);
    assertEquals(loaded.kind, "mixer");
    assertEquals(loaded.layout, "dinogpu");
    const model = loaded.model as MlpMixer;
    assertEquals(model.tokenGrids, [2, 4]);
    assertEquals(model.blocks[1].mlpTokens.fc1.weight.shape, [32, 16]);
    const diff = maxAbsDiff(await features(model, images), expected);
    model.dispose();
    assertTrue(diff < 1e-5, `loaded grown Mixer: features differ by ${diff}`);

    // the same weights without token_grids load as an ungrown Mixer, whose features differ
    const plain = join(dir, "plain.safetensors");
    const withoutGrids = { ...metadata };
    delete withoutGrids[TOKEN_GRIDS_KEY];
    await Deno.writeFile(plain, writeSafetensors(await hostState(original, ""), withoutGrids));
    const ungrown = (await loadModel(plain)).model as MlpMixer;
    assertEquals(ungrown.tokenGrids, [4]);
    const wrong = maxAbsDiff(await features(ungrown, images), expected);
    ungrown.dispose();
    assertTrue(wrong > 1e-3, `without token_grids the features should differ, max diff ${wrong}`);

    // a state dict read otherwise takes the grids as an option
    const fromState = loadModelFromState(await hostState(original, ""), { tokenGrids: [2, 4] })
      .model as MlpMixer;
    const stateDiff = maxAbsDiff(await features(fromState, images), expected);
    fromState.dispose();
    assertTrue(
      stateDiff < 1e-5,
      `loadModelFromState with tokenGrids: features differ by ${stateDiff}`,
    );

    // grids that do not end at the model's grid are refused, naming the file
    const bad = join(dir, "bad.safetensors");
    await Deno.writeFile(
      bad,
      writeSafetensors(await hostState(original, ""), { ...metadata, [TOKEN_GRIDS_KEY]: "[2, 8]" }),
    );
    await assertRejects(() => loadModel(bad), CheckpointError, "bad.safetensors");
  } finally {
    original.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("model file: token_grids values are checked", () => {
  assertEquals(parseTokenGrids(undefined, "f"), undefined);
  assertEquals(parseTokenGrids("[4,8]", "f"), [4, 8]);
  for (const text of ["", "[]", "[4, 0]", "[2.5]", '{"a":1}']) {
    assertThrows(() => parseTokenGrids(text, "f.safetensors"), CheckpointError, "f.safetensors");
  }
});

gpuTest("model file: grids that are not whole multiples are refused", () => {
  const mixer = new MlpMixer({
    imageSize: 12,
    patchSize: 4,
    embedDim: 4,
    depth: 1,
    tokenHidden: 4,
    channelHidden: 4,
  });
  try {
    assertThrows(() => applyTokenGrids(mixer, [2, 3], "m.safetensors"), CheckpointError, "whole");
    assertEquals(mixer.tokenGrids, [3]);
  } finally {
    mixer.dispose();
  }
});
