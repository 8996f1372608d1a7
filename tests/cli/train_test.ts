// `dinogpu demo`, shortened: it trains on its built-in default and ends with the k-NN line.
import { Command } from "commander";
import { assertTrue } from "../helpers/assert.ts";
import { DEMO_DEFAULTS, demoCommand } from "../../cli/commands/train.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

gpuTest("demo: trains on its built-in default and prints knn_top1 before and after", async () => {
  const out = await Deno.makeTempDir();
  const lines: string[] = [];
  const errors: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...parts: unknown[]) => lines.push(parts.join(" "));
  console.error = (...parts: unknown[]) => errors.push(parts.join(" "));
  try {
    await new Command().exitOverride().addCommand(demoCommand()).parseAsync([
      "demo",
      "--synthetic-count",
      "60",
      "--embed-dim",
      "16",
      "--depth",
      "1",
      "--heads",
      "2",
      "--max-steps",
      "2",
      "--out",
      out,
    ], { from: "user" });
  } finally {
    [console.log, console.error] = [log, error];
    await Deno.remove(out, { recursive: true });
  }
  const text = lines.join("\n");
  assertTrue(/trained 2 steps/.test(text), text);
  assertTrue(/^knn_top1 before=\d+\.\d\d after=\d+\.\d\d$/m.test(text), text);
  // the built-in default, sized by --synthetic-count
  const source = `"${DEMO_DEFAULTS.data}:60"`;
  assertTrue(errors.some((line) => line.includes(source)), `${source} in\n${errors.join("\n")}`);
});
