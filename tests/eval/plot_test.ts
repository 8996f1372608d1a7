import { assertEquals, assertRejects, assertTrue as assert } from "../helpers/assert.ts";
import { decodeImage } from "../../src/io/image.ts";
import { metricsSpec, metricsSvg, parseMetrics, svgToPng } from "../../src/eval/plot.ts";

const LINES = [
  JSON.stringify({ step: 10, epoch: 0.1, loss: 9, lr: 1e-4, teacher_temp: 0.04, extra: "x" }),
  "not json",
  JSON.stringify({ step: 0, epoch: 0, loss: 10, lr: 0, centre_norm: 0.5 }),
  "",
  JSON.stringify({ epoch: 1, loss: 3 }),
  JSON.stringify([1, 2]),
  JSON.stringify({ step: 20, loss: "NaN", lr: 2e-4, knn_top1: 41.5 }),
].join("\n");

Deno.test("parseMetrics keeps known fields, sorts by step and counts bad lines", () => {
  const parsed = parseMetrics(LINES);
  assertEquals(parsed.badLines, 3);
  assertEquals(parsed.records, 3);
  assertEquals([...parsed.series.keys()], [
    "loss",
    "learning rate",
    "teacher temperature",
    "centre norm",
    "k-NN top-1 (%)",
  ]);
  assertEquals(parsed.series.get("loss"), [{ step: 0, value: 10 }, { step: 10, value: 9 }]);
  assertEquals(parsed.series.get("learning rate")!.map((p) => p.step), [0, 10, 20]);
  assertEquals(parsed.series.get("centre norm"), [{ step: 0, value: 0.5 }]);
});

Deno.test("metricsSpec has one panel per metric", () => {
  const spec = metricsSpec(parseMetrics(LINES).series, { columns: 2 });
  assertEquals(spec.columns, 2);
  assertEquals((spec.concat as { title: string }[]).map((panel) => panel.title).length, 5);
});

Deno.test("metricsSvg and svgToPng draw every panel title into a PNG", async () => {
  const series = parseMetrics(LINES).series;
  const svg = await metricsSvg(series, { panelWidth: 120, panelHeight: 80 });
  assert(svg.startsWith("<svg"), svg.slice(0, 40));
  for (const title of series.keys()) {
    assert(svg.includes(title.replace("&", "&amp;")), `missing panel ${title}`);
  }
  const { png } = await svgToPng(svg, { scale: 1 });
  const image = decodeImage(png);
  const width = Number(/width="(\d+(\.\d+)?)"/.exec(svg)![1]);
  assertEquals(image.width, Math.round(width));
  // the curves are drawn: some pixels are neither white nor grey (the line colour)
  let coloured = 0;
  for (let i = 0; i < image.data.length; i += 3) {
    const [r, b] = [image.data[i], image.data[i + 2]];
    if (b - r > 40) coloured++;
  }
  assert(coloured > 50, `only ${coloured} coloured pixels`);
});

Deno.test("metricsSvg refuses an empty series", async () => {
  await assertRejects(() => metricsSvg(new Map()), RangeError, "no metric");
});
