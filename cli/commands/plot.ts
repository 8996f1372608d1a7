/**
 * `dinogpu plot METRICS.jsonl --out curves.png`: training curves, one panel per metric (loss, lr,
 * wd, momentum, teacher temperature and entropy, KL, centre norm, k-NN top-1) against the step.
 * `--out` ending in `.svg` writes the SVG itself.
 * @module
 */
import { Command } from "commander";
import { UserError } from "../run.ts";

/** The `plot` command. */
export function plotCommand() {
  return new Command("plot")
    .description("draw training curves from a metrics JSONL file as PNG (or SVG)")
    .argument("<metrics>", "metrics.jsonl written by `dinogpu train`")
    .option("--out <file>", "output image (.png or .svg)", "curves.png")
    .option("--columns <n>", "panels per row", "3")
    .option("--scale <x>", "PNG pixels per SVG pixel", "2")
    .option("--font <file>", "TrueType font for the labels (default: a system font)")
    .option("--title <text>", "title above the panels")
    .option("--json", "print one JSON object")
    .action(async (metricsPath, options) => {
      // loaded on use: the charting libraries are large and only this command needs them
      const { metricsSvg, parseMetrics, svgToPng } = await import("../../src/eval/plot.ts");
      let text: string;
      try {
        text = await Deno.readTextFile(metricsPath);
      } catch (error) {
        throw new UserError(`cannot read ${metricsPath}: ${(error as Error).message}`);
      }
      const columns = Number(options.columns);
      const scale = Number(options.scale);
      if (!Number.isInteger(columns) || columns < 1) {
        throw new UserError(`--columns must be a whole number >= 1, got ${options.columns}`);
      }
      if (!(scale > 0 && scale <= 8)) {
        throw new UserError(`--scale must be in (0, 8], got ${options.scale}`);
      }
      const parsed = parseMetrics(text);
      if (parsed.series.size === 0) {
        throw new UserError(
          `${metricsPath}: no metric to plot (${parsed.records} records, ` +
            `${parsed.badLines} bad lines)`,
        );
      }
      const svg = await metricsSvg(parsed.series, { columns, title: options.title });
      let textRendered = true;
      if (options.out.toLowerCase().endsWith(".svg")) {
        await Deno.writeTextFile(options.out, svg);
      } else {
        let result;
        try {
          result = await svgToPng(svg, { scale, fontFile: options.font });
        } catch (error) {
          throw new UserError((error as Error).message);
        }
        textRendered = result.textRendered;
        await Deno.writeFile(options.out, result.png);
      }
      const summary = {
        out: options.out,
        records: parsed.records,
        bad_lines: parsed.badLines,
        panels: [...parsed.series.keys()],
        text_rendered: textRendered,
      };
      if (parsed.badLines > 0) {
        console.error(`plot: skipped ${parsed.badLines} bad line(s) in ${metricsPath}`);
      }
      if (!textRendered) {
        console.error("plot: no system font found, labels are missing; pass --font FILE.ttf");
      }
      if (options.json) {
        console.log(JSON.stringify(summary));
      } else {
        console.log(
          `wrote ${options.out}: ${summary.panels.length} panels from ${parsed.records} records`,
        );
      }
    });
}
