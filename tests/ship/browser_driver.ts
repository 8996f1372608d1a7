/**
 * The Chromium side of tests/ship/browser_test.ts, run as a child process (`deno run --allow-all`:
 * playwright-core reads /proc and the home folder, more than `deno task test` grants). It opens
 * the page, lets the sample load, sets the input size, then for each case gives the page its
 * files as a person would (the file pickers, or a drop of files on the page), clicks a patch of
 * the similarity view, takes screenshots with the overlays and with the opacity at 0, and prints
 * one JSON line: what the page reported at each step and where the screenshots are. It also
 * writes `sample-views.png`, the three views of the sample as the page opens.
 *
 * Usage: `deno run --allow-all tests/ship/browser_driver.ts PLAN.json` (plan: `DriverPlan`).
 * @module
 */
import type { PageReport } from "../../examples/browser/main.ts";

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

/** One model to load into the page. */
export interface DriverCase {
  /** A name for the screenshots. */
  name: string;
  /** "picker": the file inputs; "drop": every file dropped on the page at once. */
  via: "picker" | "drop";
  /** Weights (and config.json) paths. */
  weights: string[];
  /** The image's path. */
  image?: string;
  /** The patch to click in the similarity view [row, column]. */
  click?: [number, number];
  /** A heads count to choose after loading (the "Heads" selector), and load again. */
  heads?: string;
  /** Take screenshots (with overlays, and with opacity 0). */
  screenshots?: boolean;
}

/** What the driver is told to do. */
export interface DriverPlan {
  /** The page's address. */
  url: string;
  /** Chromium's path. */
  chromium: string;
  /** The input size to choose ("224"). */
  size: string;
  /** Where screenshots go. */
  out: string;
  /** The cases, in order. */
  cases: DriverCase[];
}

/** A rectangle of the page, in CSS pixels (the screenshot's pixels at scale 1). */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** What the driver found for one case. */
export interface CaseResult {
  /** The page's report once the files were loaded and run. */
  loaded: PageReport;
  /** The page's report after choosing the heads, when asked. */
  rechosen?: PageReport;
  /** The page's report after the click, when asked. */
  clicked?: PageReport;
  /** The page's report after the click and then the right arrow key. */
  arrowed?: PageReport;
  /** The error box's text ("" when hidden). */
  errorText: string;
  /** Screenshots (full page at 1 CSS px per pixel): with overlays, and with opacity 0. */
  screenshots?: { overlays: string; plain: string };
  /** The three canvases' boxes: attention, PCA, similarity. */
  boxes?: Box[];
  /** The box of the controls row (the opacity slider and its value change with it). */
  controls?: Box;
  /** Milliseconds from giving the files to the page's report. */
  milliseconds: number;
}

/** The driver's output. */
export interface DriverResult {
  /** The page's report once the sample had loaded. */
  sample: PageReport;
  /** Per case. */
  cases: CaseResult[];
  /** Errors the page threw or logged. */
  pageErrors: string[];
  /** Milliseconds from launching chromium to the sample drawn. */
  startMilliseconds: number;
}

const CANVASES = ["#attention-canvas", "#pca-canvas", "#similarity-canvas"];

function base64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

if (import.meta.main) {
  const plan: DriverPlan = JSON.parse(await Deno.readTextFile(Deno.args[0]));
  const started = performance.now();
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: plan.chromium,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });
    // the page's test hook (functions given to evaluate run in the page: no closures)
    const idle = () => page.evaluate("globalThis.dinogpuPage.idle()");
    const report = () => page.evaluate("globalThis.dinogpuPage.report()") as Promise<PageReport>;
    await page.goto(plan.url);
    await page.waitForFunction(() => "dinogpuPage" in globalThis);
    await idle();
    const sample = await report();
    const startMilliseconds = performance.now() - started;
    // the three views of the sample, as the page opens (README's picture comes from here)
    await page.locator("#views").screenshot({ path: `${plan.out}/sample-views.png` });
    await page.selectOption("#size", plan.size);
    await idle();
    const cases: CaseResult[] = [];
    for (const item of plan.cases) {
      const start = performance.now();
      if (item.via === "picker") {
        if (item.image) await page.setInputFiles("#image-file", item.image);
        await idle();
        await page.setInputFiles("#weights-file", item.weights);
      } else {
        const files = await Promise.all(
          [...item.weights, ...(item.image ? [item.image] : [])].map(async (path) => ({
            name: path.slice(path.lastIndexOf("/") + 1),
            base64: base64(await Deno.readFile(path)),
          })),
        );
        const transfer = await page.evaluateHandle((files) => {
          const data = new DataTransfer();
          for (const { name, base64 } of files) {
            const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
            data.items.add(new File([bytes], name));
          }
          return data;
        }, files);
        await page.dispatchEvent("#drop", "drop", { dataTransfer: transfer });
      }
      await idle();
      const result: CaseResult = {
        loaded: await report(),
        errorText: "",
        milliseconds: performance.now() - start,
      };
      if (item.heads !== undefined) {
        await page.selectOption("#heads", item.heads);
        await idle();
        result.rechosen = await report();
        await page.selectOption("#heads", "");
        await idle();
      }
      if (item.click && result.loaded.gridW) {
        const box = (await page.locator("#similarity-canvas").boundingBox())!;
        const [row, column] = item.click;
        const { gridH, gridW } = result.loaded;
        await page.mouse.click(
          box.x + ((column + 0.5) * box.width) / gridW,
          box.y + ((row + 0.5) * box.height) / gridH,
        );
        result.clicked = await report();
        await page.keyboard.press("ArrowRight");
        result.arrowed = await report();
      }
      if (item.screenshots) {
        result.boxes = [];
        for (const selector of CANVASES) {
          result.boxes.push((await page.locator(selector).boundingBox())!);
        }
        result.controls = (await page.locator(".controls").boundingBox())!;
        const overlays = `${plan.out}/${item.name}-overlays.png`;
        const plain = `${plan.out}/${item.name}-plain.png`;
        await page.screenshot({ path: overlays, fullPage: true });
        await page.locator("#opacity").fill("0");
        await page.screenshot({ path: plain, fullPage: true });
        await page.locator("#opacity").fill("0.6");
        result.screenshots = { overlays, plain };
      }
      const error = page.locator("#error");
      result.errorText = (await error.isVisible()) ? (await error.textContent()) ?? "" : "";
      cases.push(result);
    }
    console.log(
      JSON.stringify({ sample, cases, pageErrors, startMilliseconds } satisfies DriverResult),
    );
  } finally {
    await browser.close();
  }
}
