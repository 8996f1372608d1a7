/**
 * The browser way in: the example page (examples/browser), bundled with esbuild and served on
 * 127.0.0.1, in Debian's chromium headless (WebGPU on SwiftShader), driven through playwright-core
 * by ./browser_driver.ts as a person would use it. The page loads its sample (a dinogpu weight
 * file) by itself; then a DINO and a DINOv2-with-registers `.pth` through the file pickers, a
 * Hugging Face `model.safetensors` + `config.json` dropped on the page together, and a DINOv3
 * `.pth`. For each, the heads, patch and registers the page inferred must be the fixture's; its CLS
 * features and attention maps must equal Deno's within 1e-4 relative, its PCA colours Deno's
 * `pcaImages` (threshold 0.35) within 1 level, and after a click on a patch its similarities
 * Deno's cosine similarities of the same patch within 1e-4. Screenshots (to a temporary folder)
 * with the overlays at opacity 0.6 and at 0 must differ inside each of the three canvases and
 * nowhere else, and each canvas must be non-blank. Files it cannot read give a message saying
 * what failed, then why. Skipped, with the reason printed, where /usr/bin/chromium is missing
 * (`apt-get install chromium`).
 * @module
 */
import { join } from "node:path";
import { assertEquals, assertTrue as assert } from "../helpers/assert.ts";
import { initGpu } from "../../src/gpu/device.ts";
import { decodeImage } from "../../src/io/image.ts";
import { loadModel } from "../../src/io/pretrained/load.ts";
import { pcaImages } from "../../src/eval/pca.ts";
import {
  inputSizeFor,
  type RgbaImage,
  runVitOnImage,
  VisionTransformer,
} from "../../src/browser.ts";
import { bundleBrowser, ROOT, staticHandler, stopBundler } from "../../tools/bundle.ts";
import type { Box, CaseResult, DriverCase, DriverPlan, DriverResult } from "./browser_driver.ts";

const CHROMIUM = "/usr/bin/chromium";
const chromiumMissing = (() => {
  try {
    Deno.statSync(CHROMIUM);
    return false;
  } catch {
    return true;
  }
})();
if (chromiumMissing) {
  console.log(`browser_test: skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
}

const MODELS = join(ROOT, "tests", "fixtures", "models");
const IMAGE = join(ROOT, "examples", "browser", "sample.png");
const SIZE = 224;

/** A fixture the page loads, and what it must infer from it. */
interface Expected {
  case: DriverCase;
  /** The weights for Deno's `loadModel` (a file or a Hugging Face folder). */
  path: string;
  layout: string;
  heads: [number, string];
  patch: number;
  registers: number;
}

const EXPECTED: Expected[] = [
  {
    case: {
      name: "dino",
      via: "picker",
      weights: [join(MODELS, "dino_vit16.pth")],
      image: IMAGE,
      click: [2, 3],
      heads: "1",
      screenshots: true,
    },
    path: join(MODELS, "dino_vit16.pth"),
    layout: "dino",
    heads: [2, "guess"],
    patch: 16,
    registers: 0,
  },
  {
    case: { name: "dinov2", via: "picker", weights: [join(MODELS, "dinov2_vit14_reg4.pth")] },
    path: join(MODELS, "dinov2_vit14_reg4.pth"),
    layout: "dinov2",
    heads: [2, "guess"],
    patch: 14,
    registers: 4,
  },
  {
    case: {
      name: "hf",
      via: "drop",
      weights: ["model.safetensors", "config.json"].map((f) => join(MODELS, "hf_dinov2_14", f)),
      click: [5, 7],
    },
    path: join(MODELS, "hf_dinov2_14"),
    layout: "hf-dinov2",
    heads: [2, "config.json"],
    patch: 14,
    registers: 0,
  },
  {
    case: {
      name: "dinov3",
      via: "picker",
      weights: [join(MODELS, "dinov3", "dinov3_swiglu.pth")],
      click: [0, 0],
    },
    path: join(MODELS, "dinov3", "dinov3_swiglu.pth"),
    layout: "dinov3",
    heads: [2, "RoPE periods"],
    patch: 16,
    registers: 4,
  },
];

/** max |actual - expected| / max |expected|. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assertEquals(actual.length, expected.length, "lengths differ");
  let difference = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    difference = Math.max(difference, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  assert(scale > 0, "the expected values are all zero");
  return difference / scale;
}

function maxDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assertEquals(actual.length, expected.length, "lengths differ");
  let difference = 0;
  for (let i = 0; i < expected.length; i++) {
    difference = Math.max(difference, Math.abs(actual[i] - expected[i]));
  }
  return difference;
}

function rgba(rgb: { width: number; height: number; data: Uint8Array }): RgbaImage {
  const data = new Uint8Array(rgb.width * rgb.height * 4).fill(255);
  for (let i = 0; i < rgb.width * rgb.height; i++) {
    data.set(rgb.data.subarray(i * 3, i * 3 + 3), i * 4);
  }
  return { width: rgb.width, height: rgb.height, data };
}

/** Deno's cosine similarity of each patch [rows, dim] to patch `index`. */
function cosine(patches: Float32Array, dim: number, index: number): number[] {
  const norm = (r: number) =>
    Math.sqrt(patches.subarray(r * dim, (r + 1) * dim).reduce((sum, v) => sum + v * v, 0));
  return Array.from({ length: patches.length / dim }, (_, r) => {
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += patches[r * dim + d] * patches[index * dim + d];
    return dot / (norm(r) * norm(index));
  });
}

/** Checks one loaded case against Deno's run of the same weights on the same image. */
async function checkCase(expected: Expected, result: CaseResult, image: RgbaImage): Promise<void> {
  const name = expected.case.name;
  const page = result.loaded;
  assertEquals(page.error, null, `${name}: the page failed`);
  assertEquals(page.model?.layout, expected.layout, `${name}: layout`);
  const heads = page.model!.heads;
  assertEquals([heads.count, heads.source], expected.heads, `${name}: heads`);
  assertEquals(page.model!.config.patchSize, expected.patch, `${name}: patch`);
  assertEquals(page.model!.config.registers, expected.registers, `${name}: registers`);
  const { model } = await loadModel(expected.path, { heads: expected.heads[0] });
  assert(model instanceof VisionTransformer, `${name}: not a ViT`);
  const size = inputSizeFor(image.width, image.height, SIZE, expected.patch);
  const deno = await runVitOnImage(model, image, size);
  model.dispose();
  assertEquals([page.gridH, page.gridW], [deno.gridH, deno.gridW], `${name}: grid`);
  const errors = {
    cls: relativeError(page.cls, deno.cls),
    attention: relativeError(page.attention, deno.attention),
  };
  const pca = pcaImages(deno.patches, 1, deno.dim, {
    gridH: deno.gridH,
    gridW: deno.gridW,
    foregroundThreshold: 0.35,
  })[0];
  const pcaDifference = maxDifference(page.pca, pca);
  let similarity = NaN;
  if (result.clicked) {
    const [row, column] = expected.case.click!;
    assertEquals(result.clicked.selected, row * deno.gridW + column, `${name}: clicked patch`);
    const values = cosine(deno.patches, deno.dim, result.clicked.selected);
    similarity = maxDifference(result.clicked.similarity, values);
    assert(similarity <= 1e-4, `${name}: similarities differ from Deno's by ${similarity}`);
    assert(Math.abs(result.clicked.similarity[result.clicked.selected] - 1) < 1e-6, "self != 1");
    // the right arrow key moves the patch one column (the click was never in the last column)
    const moved = result.arrowed!.selected;
    assertEquals(moved, result.clicked.selected + 1, `${name}: the arrow key`);
    const next = maxDifference(result.arrowed!.similarity, cosine(deno.patches, deno.dim, moved));
    assert(next <= 1e-4, `${name}: similarities after the arrow key differ by ${next}`);
  }
  console.log(
    `${name}: ${page.model!.name} ${deno.gridW}x${deno.gridH} patches, cls error ${
      errors.cls.toExponential(2)
    }, attention error ${errors.attention.toExponential(2)}, similarity difference ${
      Number.isNaN(similarity) ? "(no click)" : similarity.toExponential(2)
    }, PCA difference ${pcaDifference}, page run ${page.milliseconds.toFixed(0)} ms`,
  );
  assert(errors.cls <= 1e-4, `${name}: CLS features differ from Deno's: ${errors.cls}`);
  assert(errors.attention <= 1e-4, `${name}: attention differs from Deno's: ${errors.attention}`);
  assert(pcaDifference <= 1, `${name}: PCA colours differ from Deno's by ${pcaDifference}`);
}

/** Mean |a - b| and the standard deviation of `a` over the box, and |a - b| outside all boxes. */
function regionStatistics(
  a: { width: number; data: Uint8Array },
  b: { width: number; data: Uint8Array },
  box: Box,
): { difference: number; deviation: number } {
  let difference = 0, sum = 0, squares = 0, count = 0;
  for (let y = Math.ceil(box.y); y < Math.floor(box.y + box.height); y++) {
    for (let x = Math.ceil(box.x); x < Math.floor(box.x + box.width); x++) {
      for (let c = 0; c < 3; c++) {
        const at = (y * a.width + x) * 3 + c;
        difference += Math.abs(a.data[at] - b.data[at]);
        sum += a.data[at];
        squares += a.data[at] ** 2;
        count++;
      }
    }
  }
  const mean = sum / count;
  return { difference: difference / count, deviation: Math.sqrt(squares / count - mean * mean) };
}

async function checkScreenshots(result: CaseResult): Promise<void> {
  const overlays = decodeImage(await Deno.readFile(result.screenshots!.overlays));
  const plain = decodeImage(await Deno.readFile(result.screenshots!.plain));
  assertEquals([overlays.width, overlays.height], [plain.width, plain.height]);
  const names = ["attention", "PCA", "similarity"];
  result.boxes!.forEach((box, i) => {
    const stats = regionStatistics(overlays, plain, box);
    const image = regionStatistics(plain, plain, box);
    console.log(
      `screenshot ${names[i]}: overlay changes pixels by ${stats.difference.toFixed(1)} on ` +
        `average, deviation ${stats.deviation.toFixed(1)} with it, ${image.deviation.toFixed(1)} ` +
        "without",
    );
    assert(stats.difference > 8, `${names[i]}: the overlay changes almost nothing`);
    assert(stats.deviation > 10, `${names[i]}: the view is blank`);
    assert(image.deviation > 10, `${names[i]}: the image under the overlay is blank`);
  });
  // Outside the canvases (and their focus outline), the opacity changes only its slider and value.
  const canvasRows = [...result.boxes!, result.controls!].map((box) => [box.y, box.y + box.height]);
  let changed = 0;
  for (let y = 0; y < overlays.height; y++) {
    if (canvasRows.some(([top, bottom]) => y >= top - 4 && y <= bottom + 4)) continue;
    for (let x = 0; x < overlays.width * 3; x++) {
      if (overlays.data[y * overlays.width * 3 + x] !== plain.data[y * plain.width * 3 + x]) {
        changed++;
      }
    }
  }
  // (a few antialiased pixels of a slider's thumb may be painted again)
  assert(changed < 100, `${changed} values changed outside the canvases' and controls' rows`);
}

Deno.test({
  name: "browser: the page shows attention, PCA and similarity equal to Deno's for DINO, " +
    "DINOv2, Hugging Face and DINOv3 weights",
  ignore: chromiumMissing,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const started = performance.now();
    const site = await Deno.makeTempDir({ prefix: "dinogpu-site-" });
    const out = await Deno.makeTempDir({ prefix: "dinogpu-screens-" });
    try {
      await bundleBrowser(site);
    } finally {
      await stopBundler();
    }
    // Two files the page cannot read: not weights at all, and a .pth cut short.
    await Deno.writeTextFile(join(out, "notes.bin"), "these are not weights\n");
    const pth = await Deno.readFile(join(MODELS, "dino_vit16.pth"));
    await Deno.writeFile(join(out, "broken.pth"), pth.subarray(0, 4000));
    const failing: DriverCase[] = ["notes.bin", "broken.pth"].map((name) => ({
      name,
      via: "picker",
      weights: [join(out, name)],
    }));
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      staticHandler(site),
    );
    let driven: DriverResult;
    try {
      const plan: DriverPlan = {
        url: `http://127.0.0.1:${server.addr.port}/`,
        chromium: CHROMIUM,
        size: String(SIZE),
        out,
        cases: [...EXPECTED.map((e) => e.case), ...failing],
      };
      await Deno.writeTextFile(join(out, "plan.json"), JSON.stringify(plan));
      driven = await drive(join(out, "plan.json"));
    } finally {
      await server.shutdown();
      await Deno.remove(site, { recursive: true });
    }
    console.log(
      `browser: adapter "${driven.sample.adapter}", chromium up with the sample drawn in ${
        (driven.startMilliseconds / 1000).toFixed(1)
      } s (its run ${driven.sample.milliseconds.toFixed(0)} ms), cases ${
        driven.cases.map((c) => (c.milliseconds / 1000).toFixed(1)).join(", ")
      } s; ` +
        `screenshots in ${out}`,
    );
    assertEquals(driven.pageErrors, [], "the page reported errors");

    // Out of the box: the sample, a dinogpu weight file, loaded and drawn by itself.
    const sample = driven.sample;
    assertEquals(sample.error, null, "the sample failed");
    assertEquals([sample.model?.name, sample.model?.layout], ["sample.safetensors", "dinogpu"]);
    assertEquals(sample.model?.heads.source, "dinogpu file");
    assert(sample.attention.length > 0 && sample.similarity.length > 0, "sample: no views");

    await initGpu();
    const image = rgba(decodeImage(await Deno.readFile(IMAGE)));
    for (const [i, expected] of EXPECTED.entries()) {
      await checkCase(expected, driven.cases[i], image);
    }
    const dino = driven.cases[0];
    assertEquals(dino.rechosen?.model?.heads, { count: 1, source: "option" }, "heads chosen");
    assertEquals(dino.rechosen?.attention.length, dino.loaded.gridH * dino.loaded.gridW);
    await checkScreenshots(dino);

    const [notes, broken] = driven.cases.slice(EXPECTED.length);
    for (
      const [result, what, why] of [
        [notes, "Could not read the weights in “notes.bin”", "neither a safetensors file nor"],
        [broken, "Could not read the weights in “broken.pth”", "zip"],
      ] as const
    ) {
      console.log(`error message: ${result.errorText}`);
      assert(result.errorText.includes(what), `no "${what}" in: ${result.errorText}`);
      assert(
        result.errorText.includes(`Why: `) && result.errorText.includes(why),
        result.errorText,
      );
    }
    console.log(`browser: test ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (!Deno.env.get("DINOGPU_KEEP_SCREENSHOTS")) await Deno.remove(out, { recursive: true });
  },
});

/** Runs ./browser_driver.ts in its own `deno run --allow-all` (see there why). */
async function drive(planPath: string): Promise<DriverResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("./browser_driver.ts", import.meta.url).pathname,
      planPath,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) {
    throw new Error(`chromium driver failed (${output.code}):\n${stderr}\n${stdout}`);
  }
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}
