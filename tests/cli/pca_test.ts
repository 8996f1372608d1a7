/** `pca`: one RGB PNG per image from the jointly fitted principal components. */
import { assertEquals, assertRejects, assertTrue } from "../helpers/assert.ts";
import { commandRunner } from "../helpers/cli.ts";
import { pcaCommand } from "../../cli/commands/pca.ts";
import { UserError } from "../../cli/run.ts";
import { decodeImage, encodePng } from "../../src/io/image.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { MODEL_FIXTURES } from "../helpers/parity.ts";

const run = commandRunner(pcaCommand());

gpuTest(
  "pca: one PNG per image at --size, with colour variation",
  () =>
    withTempDir(async (dir) => {
      for (const [name, seed] of [["a", 1], ["b", 2]] as const) {
        const pixels = new Uint8Array(70 * 56 * 3).map((_, i) =>
          (i * (7 + seed) + seed * 50) % 256
        );
        await Deno.writeFile(`${dir}/${name}.png`, encodePng(pixels, 70, 56));
      }
      await run([
        `${dir}/a.png`,
        `${dir}/b.png`,
        "--weights",
        `${MODEL_FIXTURES}dinov2_vit14.pth`,
        "--heads",
        "2",
        "--size",
        "56",
        "--out",
        `${dir}/out`,
      ]);
      for (const name of ["a", "b"]) {
        const image = decodeImage(await Deno.readFile(`${dir}/out/${name}-pca.png`));
        assertEquals([image.width, image.height], [56, 56]);
        const distinct = new Set<number>();
        for (let i = 0; i < image.data.length; i += 3) {
          distinct.add(image.data[i] << 16 | image.data[i + 1] << 8 | image.data[i + 2]);
        }
        assertTrue(distinct.size > 2, `${name}: ${distinct.size} colours`);
      }
      await assertRejects(
        () =>
          run([
            `${dir}/missing.png`,
            "--weights",
            `${MODEL_FIXTURES}hf_vit16`,
            "--out",
            `${dir}/o`,
          ]),
        UserError,
        "missing.png",
      );
    }),
);
