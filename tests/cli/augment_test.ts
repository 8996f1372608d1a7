import { assertEquals, assertRejects, assertTrue as assert } from "../helpers/assert.ts";
import { runCommands } from "../helpers/cli.ts";
import {
  augmentCommand,
  denormalizeCrops,
  enlarge,
  imageGrid,
} from "../../cli/commands/augment.ts";
import { UserError } from "../../cli/run.ts";
import { decodeImage } from "../../src/io/image.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

function run(args: string[]): Promise<string> {
  return runCommands([augmentCommand()], args);
}

Deno.test("imageGrid places scaled images at the top left of their cells", () => {
  const red = { pixels: new Uint8Array([255, 0, 0]), height: 1, width: 1 };
  const blue = { pixels: new Uint8Array([0, 0, 255, 0, 0, 255]), height: 1, width: 2 };
  const grid = imageGrid([[red, blue], [blue]], { scale: 2, gap: 1, background: 9 });
  // cells 4x4 (largest side 2, scale 2), gap 1: width 1 + 2 * 5 = 11, height 11
  assertEquals([grid.width, grid.height], [11, 11]);
  const at = (
    x: number,
    y: number,
  ) => [...grid.pixels.subarray((y * 11 + x) * 3, (y * 11 + x) * 3 + 3)];
  assertEquals(at(0, 0), [9, 9, 9]);
  assertEquals(at(1, 1), [255, 0, 0]);
  assertEquals(at(2, 2), [255, 0, 0]);
  assertEquals(at(3, 1), [9, 9, 9]); // red is 2 px wide once scaled
  assertEquals(at(6, 1), [0, 0, 255]);
  assertEquals(at(9, 2), [0, 0, 255]);
  assertEquals(at(1, 6), [0, 0, 255]);
  assertEquals(at(6, 6), [9, 9, 9]); // no second image in row 2
});

Deno.test("denormalizeCrops inverts the normalisation and enlarge repeats pixels", () => {
  const mean = [0.5, 0.25, 0], std = [0.5, 0.25, 1];
  // one 1x1 crop per image, two images: values chosen to give 0, 128 and 255 and clamping
  const values = new Float32Array([-1, 0, 0.2, 1, 3, -5]);
  const [first, second] = denormalizeCrops(values, 2, 1, mean, std);
  assertEquals([...first.pixels], [0, 64, 51]);
  assertEquals([...second.pixels], [255, 255, 0]);
  const big = enlarge({ pixels: new Uint8Array([1, 2, 3, 4, 5, 6]), height: 1, width: 2 }, 2);
  assertEquals([big.height, big.width], [2, 4]);
  assertEquals([...big.pixels.subarray(12, 24)], [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
});

gpuTest("augment writes a grid of original + globals + locals", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const summary = JSON.parse(
      await run([
        "augment",
        "--data",
        "synthetic:20",
        "--out",
        dir,
        "--count",
        "3",
        "--local-crops",
        "2",
        "--json",
      ]),
    );
    assertEquals([summary.images, summary.globals, summary.locals], [3, 2, 2]);
    assertEquals([summary.global_size, summary.local_size], [32, 16]);
    const image = decodeImage(await Deno.readFile(`${dir}/augment.png`));
    // 5 columns and 3 rows of 96 px cells (32 px scaled 3 times) with 4 px gaps
    assertEquals([image.width, image.height], [4 + 5 * 100, 4 + 3 * 100]);
    // the cells are not blank: the first global crop differs from the background
    let busy = 0;
    for (let y = 4; y < 100; y++) {
      for (let x = 104; x < 200; x++) if (image.data[(y * image.width + x) * 3] !== 255) busy++;
    }
    assert(busy > 1000, `${busy}`);
    await assertRejects(
      () => run(["augment", "--data", "nope", "--out", dir]),
      UserError,
      "valid specs",
    );
    await assertRejects(
      () => run(["augment", "--preset", "big", "--out", dir]),
      UserError,
      "--preset",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("augment: the colour flags reach the crops; bad values are refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    /** Share of pixels of the first global crop (row 1, column 2) that are not gray. */
    const colourful = async (extra: string[]) => {
      await run(["augment", "--data", "synthetic:20", "--out", dir, "--count", "2", ...extra]);
      const image = decodeImage(await Deno.readFile(`${dir}/augment.png`));
      let coloured = 0, all = 0;
      for (let y = 4; y < 100; y++) {
        for (let x = 104; x < 200; x++) {
          const [r, g, b] = image.data.subarray((y * image.width + x) * 3);
          all++;
          if (r !== g || g !== b) coloured++;
        }
      }
      return coloured / all;
    };
    const gray = ["--grayscale-probability", "1", "--color-jitter-probability", "0"];
    assert(await colourful(["--seed", "3"]) > 0.5, "synthetic crops are coloured by default");
    assertEquals(await colourful(["--seed", "3", ...gray]), 0);
    await assertRejects(
      () => run(["augment", "--out", dir, "--color-jitter", "0.4,0.4,0.2,0.9"]),
      UserError,
      "hue <= 0.5",
    );
    await assertRejects(
      () => run(["augment", "--out", dir, "--grayscale-probability", "2"]),
      UserError,
      "--grayscale-probability",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
