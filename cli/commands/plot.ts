/**
 * `dinogpu plot METRICS.jsonl --out curves.png`: training curves, one panel per metric (loss, lr,
 * wd, momentum, teacher temperature and entropy, KL, centre norm, k-NN top-1) against the step.
 * `--out` ending in `.svg` writes the SVG itself.
 * @module
 */
import { Command } from "commander";
import {
  DENO_FILE_SYSTEM,
  OutputWriteError,
  type RunFileSystem,
  writeFailureReason,
  writeWhole,
} from "../../src/train/run_folder.ts";
import { UserError } from "../run.ts";
import { wholeFlag } from "../shared.ts";

/** What `writeCurves` drew. */
export interface CurvesSummary {
  /** The image written. */
  out: string;
  /** Metrics lines read. */
  records: number;
  /** Lines that were not metrics. */
  badLines: number;
  /** Panel titles drawn. */
  panels: string[];
  /** Whether a font was found for the labels (PNG only). */
  textRendered: boolean;
}

/**
 * Draws the curves of the metrics JSONL file `metricsPath` into `out` (.png, or .svg for the SVG
 * itself), whole or not at all, through `fileSystem` (default: the real one); throws a `UserError`
 * for an unreadable file, one without metrics, or a failed render, and an `OutputWriteError` when
 * the image cannot be written.
 */
export async function writeCurves(
  metricsPath: string,
  out: string,
  options: {
    columns?: number;
    scale?: number;
    font?: string;
    title?: string;
    fileSystem?: RunFileSystem;
  } = {},
): Promise<CurvesSummary> {
  // loaded on use: the charting libraries are large and only plots need them
  const { metricsSvg, parseMetrics, svgToPng } = await import("../../src/eval/plot.ts");
  let text: string;
  try {
    text = await Deno.readTextFile(metricsPath);
  } catch (error) {
    throw new UserError(`cannot read ${metricsPath}: ${(error as Error).message}`);
  }
  const parsed = parseMetrics(text);
  if (parsed.series.size === 0) {
    throw new UserError(
      `${metricsPath}: no metric to plot (${parsed.records} records, ` +
        `${parsed.badLines} bad lines)`,
    );
  }
  const svg = await metricsSvg(parsed.series, {
    columns: options.columns ?? 3,
    title: options.title,
  });
  let textRendered = true;
  let bytes: Uint8Array;
  if (out.toLowerCase().endsWith(".svg")) {
    bytes = new TextEncoder().encode(svg);
  } else {
    let result;
    try {
      result = await svgToPng(svg, { scale: options.scale ?? 2, fontFile: options.font });
    } catch (error) {
      throw new UserError((error as Error).message);
    }
    textRendered = result.textRendered;
    bytes = result.png;
  }
  // written beside, then renamed: a reader (an image viewer refreshing) never sees half a file
  try {
    await writeWhole(options.fileSystem ?? DENO_FILE_SYSTEM, out, bytes);
  } catch (error) {
    const reason = writeFailureReason(error);
    throw new OutputWriteError(`cannot write ${out}: ${reason}`, {
      path: out,
      reason,
      cause: error,
    });
  }
  return {
    out,
    records: parsed.records,
    badLines: parsed.badLines,
    panels: [...parsed.series.keys()],
    textRendered,
  };
}

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
      const columns = wholeFlag(options.columns, "--columns");
      const scale = Number(options.scale);
      if (!(scale > 0 && scale <= 8)) {
        throw new UserError(`--scale must be in (0, 8], got ${options.scale}`);
      }
      const summary = await writeCurves(metricsPath, options.out, {
        columns,
        scale,
        font: options.font,
        title: options.title,
      });
      if (summary.badLines > 0) {
        console.error(`plot: skipped ${summary.badLines} bad line(s) in ${metricsPath}`);
      }
      if (!summary.textRendered) {
        console.error("plot: no system font found, labels are missing; pass --font FILE.ttf");
      }
      if (options.json) {
        const { badLines, textRendered, ...rest } = summary;
        console.log(JSON.stringify({ ...rest, bad_lines: badLines, text_rendered: textRendered }));
      } else {
        console.log(
          `wrote ${options.out}: ${summary.panels.length} panels from ${summary.records} records`,
        );
      }
    });
}
