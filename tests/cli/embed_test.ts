/**
 * `embed`: outputs by extension, folders walked, bad images named while the rest are embedded,
 * bad checkpoints and sizes refused, only complete files written.
 */
import { assertEquals, assertRejects, assertTrue } from "../helpers/assert.ts";
import { commandRunner } from "../helpers/cli.ts";
import { embedCommand } from "../../cli/commands/embed.ts";
import { UserError } from "../../cli/run.ts";
import { OutputWriteError } from "../../src/train/run_folder.ts";
import { decodeImage, encodePng } from "../../src/io/image.ts";
import { readNpy } from "../../src/io/npy.ts";
import { IMAGENET_MEAN, IMAGENET_STD } from "../../src/data/imagenet.ts";
import { preprocessImage } from "../../src/io/preprocess.ts";
import { readSafetensors } from "../../src/io/safetensors.ts";
import { toFloat32 } from "../../src/tensor/host.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { fileNames, withTempDir } from "../helpers/temp_dir.ts";
import { MODEL_FIXTURES } from "../helpers/parity.ts";

const IMAGES = new URL("../fixtures/images/", import.meta.url).pathname;
/** The DINO ViT-S/16 fixture, which needs its head count. */
const DINO_VIT16 = ["--weights", `${MODEL_FIXTURES}dino_vit16.pth`, "--heads", "2"];

const run = commandRunner(embedCommand());

function picture(width: number, height: number, seed: number): Uint8Array {
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + seed * 101) % 251;
  return encodePng(pixels, width, height);
}

async function imageFolder(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/images/nested`, { recursive: true });
  await Deno.writeFile(`${dir}/images/a.png`, picture(40, 30, 1));
  await Deno.writeFile(`${dir}/images/nested/b.png`, picture(32, 32, 2));
  const jpeg = await Deno.readFile(`${IMAGES}quadrants.jpg`);
  await Deno.writeFile(`${dir}/images/broken.jpg`, jpeg.subarray(0, 40));
  await Deno.writeFile(`${dir}/images/tiny.png`, picture(4, 4, 3));
  await Deno.writeTextFile(`${dir}/images/notes.txt`, "not an image");
  return dir;
}

Deno.test("preprocess: an image at --size is used as is; others are resized and cropped", () => {
  const pixels = new Uint8Array(8 * 8 * 3).map((_, i) => (i * 13) % 256);
  const same = preprocessImage({ width: 8, height: 8, data: pixels }, 8);
  for (const [i, c] of [[0, 0], [5, 1], [63, 2]]) {
    const expected = (pixels[i * 3 + c] / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
    assertTrue(Math.abs(same[c * 64 + i] - expected) < 1e-6, `pixel ${i} channel ${c}`);
  }
  // a flat image stays flat after resize + crop, whatever the aspect ratio
  const flat = preprocessImage({
    width: 30,
    height: 17,
    data: new Uint8Array(30 * 17 * 3).fill(200),
  }, 8);
  const value = (200 / 255 - IMAGENET_MEAN[0]) / IMAGENET_STD[0];
  assertTrue(flat.subarray(0, 64).every((v) => Math.abs(v - value) < 1e-5), "flat stays flat");
  // the crop is centred: a 16x8 image whose middle 8 columns are white
  const data = new Uint8Array(16 * 8 * 3);
  for (let y = 0; y < 8; y++) {
    for (let x = 4; x < 12; x++) data.fill(255, (y * 16 + x) * 3, (y * 16 + x) * 3 + 3);
  }
  const centred = preprocessImage({ width: 16, height: 8, data }, 8);
  assertTrue(Math.abs(centred[3 * 8 + 4] - (1 - IMAGENET_MEAN[0]) / IMAGENET_STD[0]) < 1e-5);
});

gpuTest("embed: bad images are named, the rest are embedded to .npy", async () => {
  const dir = await imageFolder();
  try {
    const out = `${dir}/features.npy`;
    const error = await assertRejects(
      () => run([`${dir}/images`, ...DINO_VIT16, "--size", "32", "--out", out]),
      UserError,
      "2 of 4 images failed",
    );
    assertTrue(error.message.includes("broken.jpg"), error.message);
    assertTrue(
      error.message.includes("tiny.png: 4x4 pixels is smaller than one 16x16 patch"),
      error.message,
    );
    const { shape, data } = readNpy(await Deno.readFile(out));
    assertEquals(shape, [2, 32]);
    assertTrue(data.every(Number.isFinite), "finite features");
    assertTrue(data.slice(0, 32).some((v, i) => Math.abs(v - data[32 + i]) > 1e-4), "rows differ");
    assertEquals(await fileNames(dir), ["features.npy", "images"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest(
  "embed: .json and .safetensors outputs, Hugging Face folder and Mixer",
  () =>
    withTempDir(async (dir) => {
      await Deno.writeFile(`${dir}/x.png`, picture(50, 64, 4));
      await Deno.writeFile(`${dir}/y.png`, picture(64, 64, 5));
      await run([
        `${dir}/x.png`,
        `${dir}/y.png`,
        "--weights",
        `${MODEL_FIXTURES}hf_vit16`,
        "--size",
        "48",
        "--batch",
        "1",
        "--out",
        `${dir}/f.json`,
      ]);
      const json = JSON.parse(await Deno.readTextFile(`${dir}/f.json`));
      assertEquals(json.files, [`${dir}/x.png`, `${dir}/y.png`]);
      assertEquals(json.dim, 32);
      assertEquals(json.features.length, 2);
      await run([
        dir,
        "--weights",
        `${MODEL_FIXTURES}hf_vit16`,
        "--size",
        "48",
        "--out",
        `${dir}/f.safetensors`,
      ]);
      const file = readSafetensors(await Deno.readFile(`${dir}/f.safetensors`));
      const features = toFloat32(file.tensors.get("features")!);
      assertEquals(file.tensors.get("features")!.shape, [2, 32]);
      // batch 1 and batch 2 give the same rows
      json.features.flat().forEach((v: number, i: number) =>
        assertTrue(Math.abs(v - features[i]) < 1e-4, `row value ${i}: ${v} vs ${features[i]}`)
      );
      assertEquals(JSON.parse(file.metadata.files), [`${dir}/x.png`, `${dir}/y.png`]);
      await run([dir, "--weights", `${MODEL_FIXTURES}timm_mixer16.pth`, "--out", `${dir}/m.npy`]);
      assertEquals(readNpy(await Deno.readFile(`${dir}/m.npy`)).shape, [2, 32]);
      await assertRejects(
        () =>
          run([
            dir,
            "--weights",
            `${MODEL_FIXTURES}timm_mixer16.pth`,
            "--size",
            "32",
            "--out",
            `${dir}/n.npy`,
          ]),
        UserError,
        "--size 224",
      );
    }),
);

gpuTest(
  "embed: bad checkpoints, sizes and outputs are refused and nothing is written",
  () =>
    withTempDir(async (dir) => {
      await Deno.writeFile(`${dir}/x.png`, picture(32, 32, 6));
      const bytes = await Deno.readFile(`${MODEL_FIXTURES}dino_vit16.pth`);
      await Deno.writeFile(`${dir}/cut.pth`, bytes.subarray(0, 5000));
      const refused: [string[], typeof UserError | typeof OutputWriteError, string][] = [
        [
          ["--weights", `${dir}/cut.pth`, "--heads", "2", "--out", `${dir}/o.npy`],
          UserError,
          `${dir}/cut.pth`,
        ],
        [
          [...DINO_VIT16, "--size", "8", "--out", `${dir}/o.npy`],
          UserError,
          "--size 8 is smaller than one 16x16 patch",
        ],
        [
          ["--weights", `${MODEL_FIXTURES}dino_vit16.pth`, "--out", `${dir}/o.npy`],
          UserError,
          "pass --heads",
        ],
        [[...DINO_VIT16, "--out", `${dir}/o.csv`], UserError, ".npy, .safetensors or .json"],
        // a folder that cannot be made (a file is in the way): refused before any image is embedded
        [
          [...DINO_VIT16, "--out", `${dir}/x.png/features/o.npy`],
          OutputWriteError,
          `cannot write to the output folder ${dir}/x.png/features: not a directory; make ` +
          `${dir}/x.png/features writable or choose another --out`,
        ],
      ];
      for (const [args, errorClass, message] of refused) {
        await assertRejects(() => run([`${dir}/x.png`, ...args]), errorClass, message);
      }
      assertEquals(await fileNames(dir), ["cut.pth", "x.png"]);
    }),
);

Deno.test("embed: decodeImage check of the helper picture", () => {
  assertEquals(decodeImage(picture(3, 2, 1)).width, 3);
});
