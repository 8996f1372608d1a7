/**
 * The CLI and JSR ways in. `deno compile` needs `denort`, which cannot be downloaded here, so
 * compile-safety is shown with the same input: the CLI bundled into one JavaScript file (npm
 * packages and WGSL kernels inside), run from a temporary directory outside the repository with
 * no read permission on the repository. Also: `deno doc --lint mod.ts` and
 * `deno publish --dry-run` (offline: it type-checks and looks for slow types locally).
 * @module
 */
import { join } from "node:path";
import { initGpu } from "../../src/gpu/device.ts";
import { readNpy } from "../../src/io/npy.ts";
import { bundleBrowser, bundleCli, ROOT, stopBundler } from "../../tools/bundle.ts";
import { assertEquals, assertTrue } from "../helpers/assert.ts";

const deno = Deno.execPath();
const decoder = new TextDecoder();

async function run(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(deno, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, fn, sanitizeResources: false, sanitizeOps: false });

test("bundle: the CLI bundle runs `info` from a directory outside the repository", async () => {
  const build = await Deno.makeTempDir({ prefix: "dinogpu-bundle-" });
  const work = await Deno.makeTempDir({ prefix: "dinogpu-work-" });
  try {
    assertTrue(!build.startsWith(ROOT) && !work.startsWith(ROOT), "temp dirs inside the repo");
    const outfile = join(build, "dinogpu.js");
    try {
      await bundleCli(outfile);
    } finally {
      await stopBundler();
    }
    const source = await Deno.readTextFile(outfile);
    // Only node: built-ins may stay imports: npm packages and kernels are inside.
    const imports = [...source.matchAll(/^import .* from "([^"]+)";$/gm)].map((match) => match[1]);
    assertEquals(imports.filter((specifier) => !specifier.startsWith("node:")), []);
    assertTrue(source.includes("@group(0) @binding(0)"), "the WGSL kernels are not embedded");

    // The permissions `deno task compile` grants, reading only the temp dirs (no repository file).
    const permissions = ["--allow-env", `--allow-read=${build},${work}`, `--allow-write=${work}`];
    const info = await run(["run", ...permissions, "--no-config", outfile, "info"], work);
    assertEquals(info.code, 0, `dinogpu.js info failed:\n${info.output}`);
    const adapter = (await initGpu()).description;
    const line = info.output.split("\n").find((text) => text.startsWith("adapter"));
    assertTrue(line !== undefined, `no adapter line in:\n${info.output}`);
    assertTrue(line.includes(adapter), `adapter line "${line}" does not name "${adapter}"`);

    const json = await run(["run", ...permissions, "--no-config", outfile, "info", "--json"], work);
    assertEquals(json.code, 0, json.output);
    assertEquals(JSON.parse(json.output.trim().split("\n").at(-1)!).adapter, adapter);

    const unknown = await run(["run", ...permissions, "--no-config", outfile, "no-such"], work);
    assertTrue(unknown.code !== 0, "an unknown command must fail");

    // `embed` from the bundle equals `embed` from the source tree on the same checkpoint and image.
    await Deno.mkdir(join(work, "images"));
    await Deno.copyFile(
      join(ROOT, "tests/fixtures/browser/pattern.png"),
      join(work, "images/pattern.png"),
    );
    await Deno.copyFile(join(ROOT, "tests/fixtures/models/dino_vit16.pth"), join(work, "vit.pth"));
    const embedArgs = ["embed", "--weights", "vit.pth", "--heads", "2", "images"];
    const bundled = await run(
      ["run", ...permissions, "--no-config", outfile, ...embedArgs, "--out", "bundled.npy"],
      work,
    );
    assertEquals(bundled.code, 0, `dinogpu.js embed failed:\n${bundled.output}`);
    const fromSource = await run(
      [
        "run",
        "-A",
        `--config=${join(ROOT, "deno.json")}`,
        join(ROOT, "cli/main.ts"),
        ...embedArgs,
        "--out",
        "source.npy",
      ],
      work,
    );
    assertEquals(fromSource.code, 0, `cli/main.ts embed failed:\n${fromSource.output}`);
    const a = readNpy(await Deno.readFile(join(work, "bundled.npy")));
    const b = readNpy(await Deno.readFile(join(work, "source.npy")));
    assertEquals(a.shape, b.shape);
    assertEquals(Array.from(a.data), Array.from(b.data));
  } finally {
    await Deno.remove(build, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
});

test("bundle: the browser bundle builds without Deno-only code", async () => {
  const directory = await Deno.makeTempDir({ prefix: "dinogpu-browser-" });
  try {
    try {
      await bundleBrowser(directory);
    } finally {
      await stopBundler();
    }
    const library = await Deno.readTextFile(join(directory, "dinogpu.js"));
    assertTrue(!/^import /m.test(library), "the browser bundle must be self-contained");
    assertTrue(!library.includes("Deno.readFile"), "the browser bundle reads files through Deno");
    for (const name of ["runVitOnImage", "VisionTransformer", "MlpMixer", "readSafetensors"]) {
      assertTrue(new RegExp(`\\b${name}\\b`).test(library), `${name} is not exported`);
    }
    const page = await Deno.readTextFile(join(directory, "main.js"));
    assertTrue(page.includes('from "./dinogpu.js"'), "main.js must import ./dinogpu.js");
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

test("examples: embed_folder and knn_folders run on the fixture images", async () => {
  const permissions = ["--allow-read", "--allow-env"];
  const embed = await run(
    ["run", ...permissions, "examples/embed_folder.ts", "tests/fixtures/images"],
    ROOT,
  );
  assertEquals(embed.code, 0, embed.output);
  assertTrue(/^features \[8, 64\]/m.test(embed.output), embed.output);
  const knn = await run(
    [
      "run",
      ...permissions,
      "examples/knn_folders.ts",
      "tests/fixtures/images",
      "tests/fixtures/browser",
      "--k",
      "2",
    ],
    ROOT,
  );
  assertEquals(knn.code, 0, knn.output);
  assertTrue(/^pattern\.png: \S+ \(\d\.\d{3}\), \S+ \(/m.test(knn.output), knn.output);
});

test("jsr: deno doc --lint mod.ts reports no problem", async () => {
  const result = await run(["doc", "--lint", "mod.ts"], ROOT);
  assertEquals(result.code, 0, `deno doc --lint mod.ts:\n${result.output}`);
});

test("jsr: deno publish --dry-run passes (offline)", async () => {
  const result = await run(["publish", "--dry-run", "--allow-dirty"], ROOT);
  assertEquals(result.code, 0, `deno publish --dry-run:\n${result.output}`);
  assertTrue(result.output.includes("Dry run complete"), result.output);
});
