/** `attn`: per-head heat maps, the 60% mask and attention.npy; bad input refused. */
import { assertEquals, assertRejects, assertTrue } from "../helpers/assert.ts";
import { commandRunner } from "../helpers/cli.ts";
import { attnCommand } from "../../cli/commands/attn.ts";
import { UserError } from "../../cli/run.ts";
import { decodeImage, encodePng } from "../../src/io/image.ts";
import { readNpy } from "../../src/io/npy.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { fileNames, withTempDir } from "../helpers/temp_dir.ts";
import { MODEL_FIXTURES } from "../helpers/parity.ts";

const run = commandRunner(attnCommand());

gpuTest(
  "attn: heat maps per head, mask and raw probabilities (registers excluded)",
  () =>
    withTempDir(async (dir) => {
      const pixels = new Uint8Array(60 * 44 * 3).map((_, i) => (i * 29) % 256);
      await Deno.writeFile(`${dir}/in.png`, encodePng(pixels, 60, 44));
      await run([
        `${dir}/in.png`,
        "--weights",
        `${MODEL_FIXTURES}dinov2_vit14_reg4.pth`,
        "--heads",
        "2",
        "--size",
        "56",
        "--out",
        `${dir}/out`,
      ]);
      assertEquals(await fileNames(`${dir}/out`), [
        "attention.npy",
        "head-0.png",
        "head-1.png",
        "mask.png",
      ]);
      const { shape, data } = readNpy(await Deno.readFile(`${dir}/out/attention.npy`));
      assertEquals(shape, [2, 4, 4]);
      for (let h = 0; h < 2; h++) {
        const sum = data.subarray(h * 16, h * 16 + 16).reduce((a, b) => a + b, 0);
        // CLS row minus the CLS and register columns: below 1, above 0
        assertTrue(sum > 0 && sum < 1, `head ${h} patch mass ${sum}`);
      }
      const heat = decodeImage(await Deno.readFile(`${dir}/out/head-0.png`));
      assertEquals([heat.width, heat.height], [56, 56]);
      const mask = decodeImage(await Deno.readFile(`${dir}/out/mask.png`));
      assertEquals([mask.width, mask.height], [56, 56]);
    }),
);

gpuTest(
  "attn: a Mixer, a corrupt image and a tiny size are refused",
  () =>
    withTempDir(async (dir) => {
      await Deno.writeFile(`${dir}/in.png`, encodePng(new Uint8Array(32 * 32 * 3), 32, 32));
      await Deno.writeFile(
        `${dir}/bad.png`,
        (await Deno.readFile(`${dir}/in.png`)).subarray(0, 30),
      );
      const refused: [string, string[], string][] = [
        ["in.png", ["--weights", `${MODEL_FIXTURES}timm_mixer16.pth`], "not a ViT checkpoint"],
        ["bad.png", ["--weights", `${MODEL_FIXTURES}hf_vit16`, "--size", "32"], "bad.png"],
        [
          "in.png",
          ["--weights", `${MODEL_FIXTURES}hf_vit16`, "--size", "8"],
          "smaller than one 16x16 patch",
        ],
      ];
      for (const [image, args, message] of refused) {
        await assertRejects(
          () => run([`${dir}/${image}`, ...args, "--out", `${dir}/o`]),
          UserError,
          message,
        );
      }
      assertEquals(await fileNames(dir), ["bad.png", "in.png"]);
    }),
);
