/**
 * The browser way in: bundles src/browser.ts and the example page with esbuild, serves them on
 * 127.0.0.1 with a tiny random ViT checkpoint written here and a fixture image, drives Debian's
 * chromium headless through playwright-core (WebGPU on SwiftShader), and checks that the page's
 * CLS features and attention maps equal the ones Deno computes within 1e-4 relative.
 * Skipped, with the reason printed, where /usr/bin/chromium is missing (`apt-get install chromium`).
 * @module
 */
import { assertEquals, assertTrue as assert } from "../helpers/assert.ts";
import { join } from "node:path";
import { initGpu } from "../../src/gpu/device.ts";
import { decodeImage } from "../../src/io/image.ts";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors.ts";
import {
  type RgbaImage,
  runVitOnImage,
  stateDictFromSafetensors,
  VisionTransformer,
  vitConfigFromStateDict,
} from "../../src/browser.ts";
import { bundleBrowser, ROOT, staticHandler, stopBundler } from "../../tools/bundle.ts";

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

/** Flags that give headless chromium a WebGPU adapter (SwiftShader) without any network use. */
export const CHROMIUM_ARGS = [
  "--enable-unsafe-webgpu",
  "--headless=new",
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-default-apps",
];

const IMAGE_SIZE = 32;
const HEADS = 2;

function toRgba(rgb: { width: number; height: number; data: Uint8Array }): RgbaImage {
  const data = new Uint8Array(rgb.width * rgb.height * 4);
  for (let i = 0; i < rgb.width * rgb.height; i++) {
    data.set(rgb.data.subarray(i * 3, i * 3 + 3), i * 4);
    data[i * 4 + 3] = 255;
  }
  return { width: rgb.width, height: rgb.height, data };
}

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

Deno.test({
  name: "browser: the example page's features and attention maps equal Deno's within 1e-4",
  ignore: chromiumMissing,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const started = performance.now();
    const site = await Deno.makeTempDir({ prefix: "dinogpu-site-" });
    try {
      await bundleBrowser(site);
    } finally {
      await stopBundler();
    }
    await Deno.copyFile(join(ROOT, "examples", "browser", "index.html"), join(site, "index.html"));
    const imageBytes = await Deno.readFile(
      join(ROOT, "tests", "fixtures", "browser", "pattern.png"),
    );
    await Deno.writeFile(join(site, "pattern.png"), imageBytes);

    // A tiny random ViT with a register token and LayerScale, saved as an official-style checkpoint.
    await initGpu();
    const original = new VisionTransformer({
      imageSize: IMAGE_SIZE,
      patchSize: 8,
      embedDim: 32,
      depth: 2,
      heads: HEADS,
      registers: 1,
      layerScaleInit: 0.5,
      seed: 1234,
    }).eval();
    const tensors = await original.stateDict();
    original.dispose();
    await Deno.writeFile(join(site, "model.safetensors"), writeSafetensors(tensors));

    // The Deno result, through the same loading path the page takes.
    const loaded = stateDictFromSafetensors(
      readSafetensors(await Deno.readFile(join(site, "model.safetensors"))),
    );
    const config = vitConfigFromStateDict(loaded, HEADS);
    assertEquals(
      [config.embedDim, config.depth, config.patchSize, config.imageSize, config.registers],
      [32, 2, 8, IMAGE_SIZE, 1],
    );
    const model = new VisionTransformer(config).eval();
    model.loadStateDict(loaded);
    const image = toRgba(decodeImage(imageBytes));
    const expected = await runVitOnImage(model, image, IMAGE_SIZE);
    model.dispose();
    assertEquals([expected.heads, expected.grid], [HEADS, 4]);
    assertEquals(expected.attention.length, HEADS * 16);
    for (let head = 0; head < HEADS; head++) {
      const map = expected.attention.subarray(head * 16, head * 16 + 16);
      const total = map.reduce((sum, value) => sum + value, 0);
      assert(total > 0 && total < 1, `head ${head}: patch attention sums to ${total}`);
    }

    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      staticHandler(site),
    );
    try {
      const result = await driveChromium(
        `http://127.0.0.1:${server.addr.port}/`,
        IMAGE_SIZE,
        HEADS,
      );
      assertEquals(result.errors, [], "the page reported errors");
      assertEquals([result.heads, result.grid], [HEADS, 4]);
      assertEquals(result.canvases, HEADS, "one canvas per head");
      const clsError = relativeError(result.cls, expected.cls);
      const attentionError = relativeError(result.attention, expected.attention);
      console.log(
        `browser: adapter "${result.adapter}", cls error ${clsError.toExponential(2)}, ` +
          `attention error ${attentionError.toExponential(2)}, page run ${
            result.milliseconds.toFixed(0)
          } ms, test ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      assert(clsError <= 1e-4, `CLS features differ from Deno's: relative error ${clsError}`);
      assert(
        attentionError <= 1e-4,
        `attention maps differ from Deno's: relative error ${attentionError}`,
      );
    } finally {
      await server.shutdown();
      await Deno.remove(site, { recursive: true });
    }
  },
});

/** What the chromium driver reports. */
interface PageResult {
  cls: number[];
  attention: number[];
  heads: number;
  grid: number;
  adapter: string;
  milliseconds: number;
  canvases: number;
  errors: string[];
}

/**
 * Runs this file as a separate `deno run` that drives chromium: playwright-core needs `--allow-sys` and
 * reads /proc (which only `--allow-all` allows), more than `deno task test` grants, so the browser lives in a child process.
 */
async function driveChromium(url: string, size: number, heads: number): Promise<PageResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      // playwright-core reads /proc and os.homedir(): only --allow-all covers /proc.
      "--allow-all",
      new URL(import.meta.url).pathname,
      url,
      String(size),
      String(heads),
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

if (import.meta.main) {
  const [url, size, heads] = Deno.args;
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    await page.goto(url);
    await page.waitForFunction(() => "dinogpuDemo" in globalThis);
    const result = await page.evaluate(
      async ([size, heads]) => {
        // deno-lint-ignore no-explicit-any
        const demo = (globalThis as any).dinogpuDemo;
        return await demo.runOnUrls("model.safetensors", "pattern.png", size, heads);
      },
      [Number(size), Number(heads)],
    );
    const canvases = await page.locator("#maps canvas").count();
    console.log(JSON.stringify({ ...result, canvases, errors }));
  } finally {
    await browser.close();
  }
}
