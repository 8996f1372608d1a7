import { assertEquals, assertRejects, assertTrue as assert } from "../helpers/assert.ts";
import { runCommands } from "../helpers/cli.ts";
import { plotCommand } from "../../cli/commands/plot.ts";
import { UserError } from "../../cli/run.ts";
import { decodeImage } from "../../src/io/image.ts";

function run(args: string[]): Promise<string> {
  return runCommands([plotCommand()], args);
}

Deno.test("plot writes a PNG of the metrics and reports bad lines", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = Array.from({ length: 40 }, (_, step) =>
      JSON.stringify({
        step,
        loss: 5 * Math.exp(-step / 10),
        lr: step / 40,
        teacher_entropy: 3,
        kl: 1,
        images_per_second: 12,
        koleo_loss: -1 - step / 40,
      }));
    lines.splice(5, 0, "{broken");
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, lines.join("\n") + "\n");
    const output = await run([
      "plot",
      `${dir}/metrics.jsonl`,
      "--out",
      `${dir}/curves.png`,
      "--scale",
      "1",
      "--json",
    ]);
    const summary = JSON.parse(output);
    assertEquals(summary.records, 40);
    assertEquals(summary.bad_lines, 1);
    assertEquals(summary.panels, [
      "loss",
      "learning rate",
      "teacher entropy (nats)",
      "KL(teacher || student)",
      "KoLeo loss",
      "images/s",
    ]);
    const image = decodeImage(await Deno.readFile(`${dir}/curves.png`));
    assert(image.width > 500 && image.height > 150, `${image.width}x${image.height}`);
    await run(["plot", `${dir}/metrics.jsonl`, "--out", `${dir}/curves.svg`]);
    assert((await Deno.readTextFile(`${dir}/curves.svg`)).startsWith("<svg"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plot rejects missing files and files without metrics", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(() => run(["plot", `${dir}/none.jsonl`]), UserError, "cannot read");
    await Deno.writeTextFile(`${dir}/empty.jsonl`, 'garbage\n{"step": 1}\n');
    await assertRejects(
      () => run(["plot", `${dir}/empty.jsonl`, "--out", `${dir}/x.png`]),
      UserError,
      "no metric to plot (1 records, 1 bad lines)",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
