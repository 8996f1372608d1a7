/**
 * Training curves from a metrics JSONL file (`dinogpu plot`): one panel per metric against the
 * step, drawn by Vega-Lite (compiled to Vega, rendered to SVG without a browser) and rasterised
 * to PNG by resvg (WebAssembly). Lines that are not JSON objects with a numeric `step` are
 * skipped and counted; unknown fields are ignored.
 *
 * The resvg WebAssembly module is read from the installed npm package
 * (`@resvg/resvg-wasm/index_bg.wasm`, resolved with `import.meta.resolve`) the first time a PNG is
 * made; SVG output needs no WebAssembly. resvg has no system font access from WebAssembly, so a
 * TrueType font is read from the usual system places (or the `fontFile` option).
 * @module
 */
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import * as vega from "vega";
import * as vegaLite from "vega-lite";

/** One panel: the JSONL fields it reads (first present wins) and its title. */
export interface MetricPanel {
  /** Field names, the canonical one first. */
  fields: readonly string[];
  /** Panel title. */
  title: string;
}

/** The panels, in drawing order. */
export const METRIC_PANELS: readonly MetricPanel[] = [
  { fields: ["loss"], title: "loss" },
  { fields: ["lr"], title: "learning rate" },
  { fields: ["wd"], title: "weight decay" },
  { fields: ["momentum"], title: "teacher momentum" },
  { fields: ["teacher_temp", "teacher_temperature"], title: "teacher temperature" },
  { fields: ["teacher_entropy"], title: "teacher entropy (nats)" },
  { fields: ["kl"], title: "KL(teacher || student)" },
  { fields: ["center_norm", "centre_norm"], title: "centre norm" },
  { fields: ["knn_top1"], title: "k-NN top-1 (%)" },
  { fields: ["koleo_loss"], title: "KoLeo loss" },
  { fields: ["ibot_loss"], title: "iBOT loss" },
  { fields: ["gram_loss"], title: "Gram loss" },
  { fields: ["images_per_second"], title: "images/s" },
  { fields: ["global_size"], title: "global crop size (px)" },
];

/** One point of one metric. */
export interface MetricPoint {
  /** Step. */
  step: number;
  /** Value. */
  value: number;
}

/** Parsed metrics: the points of each panel that has any, and the lines skipped. */
export interface ParsedMetrics {
  /** Points by panel title, only panels with at least one finite value, in panel order. */
  series: Map<string, MetricPoint[]>;
  /** Lines that were not JSON objects with a numeric `step` (blank lines are not counted). */
  badLines: number;
  /** Lines read as records. */
  records: number;
}

/** Parses JSONL metrics text; never throws on bad lines (they are counted). */
export function parseMetrics(text: string): ParsedMetrics {
  const series = new Map<string, MetricPoint[]>(METRIC_PANELS.map((panel) => [panel.title, []]));
  let badLines = 0;
  let records = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      badLines++;
      continue;
    }
    if (typeof record !== "object" || record === null || Array.isArray(record)) {
      badLines++;
      continue;
    }
    const fields = record as Record<string, unknown>;
    const step = fields.step;
    if (typeof step !== "number" || !Number.isFinite(step)) {
      badLines++;
      continue;
    }
    records++;
    for (const panel of METRIC_PANELS) {
      const key = panel.fields.find((name) => typeof fields[name] === "number");
      const value = key === undefined ? undefined : fields[key] as number;
      if (value !== undefined && Number.isFinite(value)) {
        series.get(panel.title)!.push({ step, value });
      }
    }
  }
  for (const [title, points] of series) {
    if (points.length === 0) series.delete(title);
    else points.sort((a, b) => a.step - b.step);
  }
  return { series, badLines, records };
}

/** Options of `metricsSvg` and `metricsPng`. */
export interface PlotOptions {
  /** Panels per row; default 3. */
  columns?: number;
  /** Panel width in CSS pixels; default 260. */
  panelWidth?: number;
  /** Panel height in CSS pixels; default 150. */
  panelHeight?: number;
  /** Title above the panels. */
  title?: string;
}

const FONT_FAMILY = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";

/** The Vega-Lite specification of the panels (exposed for tests and for `--format vl`). */
export function metricsSpec(
  series: Map<string, MetricPoint[]>,
  options: PlotOptions = {},
): Record<string, unknown> {
  const { columns = 3, panelWidth = 260, panelHeight = 150 } = options;
  const panels = [...series].map(([title, points]) => {
    const sparse = points.length <= 30;
    return {
      title,
      width: panelWidth,
      height: panelHeight,
      data: { values: points },
      mark: { type: "line", point: sparse, strokeWidth: 1.5, clip: true },
      encoding: {
        x: { field: "step", type: "quantitative", title: "step" },
        y: {
          field: "value",
          type: "quantitative",
          title: null,
          scale: { zero: false },
        },
      },
    };
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    ...(options.title ? { title: options.title } : {}),
    background: "white",
    padding: 8,
    columns,
    concat: panels,
    config: {
      font: FONT_FAMILY,
      view: { stroke: "#ccc" },
      title: { fontSize: 12 },
      axis: { labelFontSize: 10, titleFontSize: 10 },
    },
  };
}

/** Renders the panels to an SVG string (no browser, no WebAssembly). */
export async function metricsSvg(
  series: Map<string, MetricPoint[]>,
  options: PlotOptions = {},
): Promise<string> {
  if (series.size === 0) throw new RangeError("metricsSvg: no metric has any value to plot");
  const compiled =
    vegaLite.compile(metricsSpec(series, options) as unknown as vegaLite.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Font files tried when no font is given, in order. */
export const FONT_CANDIDATES: readonly string[] = [
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/TTF/DejaVuSans.ttf",
  "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
  "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
  "/System/Library/Fonts/Supplemental/Arial.ttf",
  "/Library/Fonts/Arial.ttf",
  "C:\\Windows\\Fonts\\arial.ttf",
];

let wasmReady: Promise<void> | undefined;

/** Loads resvg's WebAssembly module once (from the installed npm package). */
function ensureResvg(): Promise<void> {
  wasmReady ??= (async () => {
    const url = new URL(import.meta.resolve("@resvg/resvg-wasm/index_bg.wasm"));
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(url);
    } catch (error) {
      throw new Error(
        `plot: cannot read resvg's WebAssembly module at ${url.href} ` +
          `(npm install puts it there): ${(error as Error).message}`,
      );
    }
    await initWasm(bytes);
  })();
  wasmReady.catch(() => (wasmReady = undefined));
  return wasmReady;
}

/** The first readable font among `fontFile` and `FONT_CANDIDATES`, or undefined. */
export async function findFont(fontFile?: string): Promise<Uint8Array | undefined> {
  for (const path of fontFile ? [fontFile] : FONT_CANDIDATES) {
    try {
      return await Deno.readFile(path);
    } catch {
      if (fontFile) throw new Error(`plot: cannot read the font ${fontFile}`);
    }
  }
  return undefined;
}

/** Options of `svgToPng`. */
export interface RasterOptions {
  /** Pixels per CSS pixel; default 2. */
  scale?: number;
  /** A TrueType/OpenType font file for the text (default: a system font, see FONT_CANDIDATES). */
  fontFile?: string;
}

/** Rasterises SVG to PNG bytes with resvg; `textRendered` is false when no font was found. */
export async function svgToPng(
  svg: string,
  options: RasterOptions = {},
): Promise<{ png: Uint8Array; textRendered: boolean }> {
  await ensureResvg();
  const font = await findFont(options.fontFile);
  const resvg = new Resvg(svg, {
    fitTo: { mode: "zoom", value: options.scale ?? 2 },
    background: "white",
    font: {
      fontBuffers: font ? [font] : [],
      loadSystemFonts: false,
      defaultFontFamily: "DejaVu Sans",
      sansSerifFamily: "DejaVu Sans",
    },
  });
  try {
    const rendered = resvg.render();
    const png = rendered.asPng();
    rendered.free();
    return { png, textRendered: font !== undefined };
  } finally {
    resvg.free();
  }
}
