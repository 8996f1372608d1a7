/**
 * DINOv3 weights through the commands: `embed`, `attn` and `pca` at `--size WxH` (the whole image
 * resized, any multiple of 16, no interpolation), `knn` and `probe`, and `distill`'s teacher; sizes
 * that are not multiples of the patch refused naming the size; `--size` parsing.
 */
import { assertEquals, assertRejects, assertThrows, assertTrue } from "../helpers/assert.ts";
import { runCommands } from "../helpers/cli.ts";
import { attnCommand } from "../../cli/commands/attn.ts";
import { embedCommand } from "../../cli/commands/embed.ts";
import { knnCommand } from "../../cli/commands/knn.ts";
import { pcaCommand } from "../../cli/commands/pca.ts";
import { probeCommand } from "../../cli/commands/probe.ts";
import { UserError } from "../../cli/run.ts";
import { parseImageSize } from "../../cli/image_size.ts";
import { syntheticDataset } from "../../src/data/synthetic.ts";
import { batchFeatures } from "../../src/eval/features.ts";
import { decodeImage, encodePng } from "../../src/io/image.ts";
import { readNpy } from "../../src/io/npy.ts";
import { loadModel } from "../../src/io/pretrained/load.ts";
import { preprocessImageResized } from "../../src/io/preprocess.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { DINO_DEFAULTS } from "../../src/train/config.ts";
import { resolveConfig } from "../../src/train/validate.ts";
import { loadDistillTeacher } from "../../src/train/distill.ts";
import { runDinoTraining } from "../../src/train/run.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

const DINOV3 = new URL("../fixtures/models/dinov3/", import.meta.url).pathname;
const PTH = `${DINOV3}dinov3_gelu.pth`;
const HF = `${DINOV3}hf_dinov3_swiglu`;

function run(args: string[]): Promise<string> {
  return runCommands(
    [embedCommand(), attnCommand(), pcaCommand(), knnCommand(), probeCommand()],
    args,
  );
}

function pixels(width: number, height: number, seed: number): Uint8Array {
  return new Uint8Array(width * height * 3).map((_, i) => (i * (7 + seed) + seed * 50) % 256);
}

gpuTest("dinov3: --size WxH parses; a side keeps today's resize + crop", () => {
  assertEquals(parseImageSize("224"), { width: 224, height: 224, crop: true });
  assertEquals(parseImageSize("320x240"), { width: 320, height: 240, crop: false });
  assertEquals(parseImageSize(" 96X48 "), { width: 96, height: 48, crop: false });
  for (const bad of ["", "0", "12x", "x12", "3.5", "10x0", "-16"]) {
    assertThrows(() => parseImageSize(bad), UserError, "--size must be a whole number");
  }
});

gpuTest("dinov3: embed at --size WxH equals the model on the resized image", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a.png`, encodePng(pixels(70, 50, 1), 70, 50));
    await Deno.writeFile(`${dir}/b.png`, encodePng(pixels(40, 60, 2), 40, 60));
    for (const weights of [PTH, HF]) {
      await run(["embed", dir, "--weights", weights, "--size", "64x32", "--out", `${dir}/f.npy`]);
      const { shape, data } = readNpy(await Deno.readFile(`${dir}/f.npy`));
      assertEquals(shape, [2, 24]);
      const { model } = await loadModel(weights);
      const host = new Float32Array(2 * 3 * 32 * 64);
      const inputs: [number, number, number][] = [[70, 50, 1], [40, 60, 2]];
      for (const [i, [width, height, seed]] of inputs.entries()) {
        const image = { width, height, data: pixels(width, height, seed) };
        preprocessImageResized(image, 64, 32, host, i * 3 * 32 * 64);
      }
      using images = tensor(host, [2, 3, 32, 64]);
      using direct = batchFeatures(model, images);
      const expected = await direct.read();
      data.forEach((v, i) => assertTrue(Math.abs(v - expected[i]) < 1e-5, `${weights} ${i}`));
      model.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("dinov3: attn and pca at a non-square size; sizes off the patch refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/in.png`, encodePng(pixels(90, 44, 3), 90, 44));
    await run(["attn", `${dir}/in.png`, "--weights", HF, "--size", "96x48", "--out", `${dir}/a`]);
    const { shape, data } = readNpy(await Deno.readFile(`${dir}/a/attention.npy`));
    assertEquals(shape, [2, 3, 6]); // heads, grid height, grid width
    for (let h = 0; h < 2; h++) {
      const mass = data.subarray(h * 18, h * 18 + 18).reduce((a, b) => a + b, 0);
      assertTrue(mass > 0 && mass < 1, `head ${h}: CLS-to-patch mass ${mass}`);
    }
    for (const name of ["head-0.png", "head-1.png", "mask.png"]) {
      const image = decodeImage(await Deno.readFile(`${dir}/a/${name}`));
      assertEquals([image.width, image.height], [96, 48], name);
    }
    await run(["pca", `${dir}/in.png`, "--weights", PTH, "--size", "96x48", "--out", `${dir}/p`]);
    const picture = decodeImage(await Deno.readFile(`${dir}/p/in-pca.png`));
    assertEquals([picture.width, picture.height], [96, 48]);
    for (const size of ["40", "64x40", "250x224"]) {
      await assertRejects(
        () => run(["pca", `${dir}/in.png`, "--weights", PTH, "--size", size, "--out", `${dir}/x`]),
        UserError,
        `--size ${size}: a DINOv3 model takes sides that are multiples of its patch 16`,
      );
    }
    // the other ViTs take WxH too (their position embedding is interpolated)
    await run([
      "embed",
      `${dir}/in.png`,
      "--weights",
      new URL("../fixtures/models/hf_vit16", import.meta.url).pathname,
      "--size",
      "48x32",
      "--out",
      `${dir}/v.npy`,
    ]);
    assertEquals(readNpy(await Deno.readFile(`${dir}/v.npy`)).shape, [1, 32]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("dinov3: knn and probe run on DINOv3 features", async () => {
  const common = ["--weights", PTH, "--data", "synthetic:40", "--size", "32", "--quiet"];
  const knn = JSON.parse(await run(["knn", ...common, "--k", "5", "--json"]));
  assertEquals([knn.dim, knn.arch], [24, "vit"]);
  assertTrue(knn.knn_top1 >= 0 && knn.knn_top1 <= 100, JSON.stringify(knn));
  const probe = JSON.parse(
    await run(["probe", ...common, "--epochs", "1", "--last-blocks", "2", "--avgpool", "--json"]),
  );
  // the CLS tokens of both blocks and the mean of the patch tokens (storage tokens skipped)
  assertEquals(probe.dim, 3 * 24);
  assertTrue(Number.isFinite(probe.final_loss), JSON.stringify(probe));
});

gpuTest("dinov3: a DINOv3 checkpoint is a frozen distillation teacher", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = resolveConfig(DINO_DEFAULTS, {
      imageSize: 32,
      patchSize: 16,
      embedDim: 8,
      depth: 1,
      heads: 2,
      outDim: 16,
      headHidden: 16,
      headBottleneck: 8,
      batchSize: 4,
      epochs: 1,
      warmupEpochs: 0,
      globalSize: 32,
      localCrops: 2,
      localSize: 16,
      freezeLastLayer: 0,
      logEvery: 1,
      dropPathRate: 0,
      maxSteps: 3,
      out: `${dir}/run`,
    });
    const teacher = await loadDistillTeacher(PTH, config, { teacherHead: "random" });
    assertEquals(teacher.head, "random");
    const result = await runDinoTraining({
      config,
      train: syntheticDataset({ count: 16, size: 32, seed: 3 }),
      teacher: teacher.network,
    });
    assertEquals(result.steps, 3);
    for (const loss of result.losses.values()) assertTrue(Number.isFinite(loss), `loss ${loss}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
