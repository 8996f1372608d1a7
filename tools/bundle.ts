/**
 * Bundles dinogpu with esbuild:
 * - the CLI (cli/main.ts) into one ES module, `dist/dinogpu.js`, npm dependencies inlined, WGSL
 *   kernels embedded (they are TypeScript strings), only `node:` built-ins left as imports. It
 *   runs with `deno run --allow-read --allow-write --allow-env dist/dinogpu.js info` from any
 *   directory: it reads no file of the repository.
 * - the browser inference path (src/browser.ts) into `examples/browser/dinogpu.js`, and the
 *   page script examples/browser/main.ts (with its modules) into `examples/browser/main.js`;
 *   bundled elsewhere, the page's static files (index.html, the sample model and image) are
 *   copied next to them, so that the folder is the whole site.
 *
 * Usage: `deno task bundle [--cli out.js] [--browser dir] [--only cli|browser]`;
 * `deno task browser` bundles the page and serves examples/browser on http://127.0.0.1:8000.
 * @module
 */
import { builtinModules } from "node:module";
import * as esbuild from "esbuild";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (the folder holding deno.json). */
export const ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The bare npm specifiers of deno.json's import map, as esbuild must resolve them from
 * node_modules (`"commander": "npm:@commander-js/extra-typings@^14"` -> `@commander-js/extra-typings`).
 */
export function npmAliases(): Record<string, string> {
  const config = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json")));
  const aliases: Record<string, string> = {};
  for (const [name, target] of Object.entries(config.imports ?? {})) {
    if (typeof target !== "string" || !target.startsWith("npm:")) continue;
    const spec = target.slice(4);
    const at = spec.indexOf("@", spec.startsWith("@") ? 1 : 0);
    aliases[name] = at < 0 ? spec : spec.slice(0, at);
  }
  return aliases;
}

/**
 * Resolves the import map's bare names for the project's own files only (inside node_modules a
 * package's `commander` is the real commander, not the import map's alias).
 */
function importMapPlugin(): esbuild.Plugin {
  const aliases = npmAliases();
  return {
    name: "deno-import-map",
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.importer.includes("node_modules") || args.pluginData?.aliased) return undefined;
        const [head, ...rest] = args.path.startsWith("@")
          ? [args.path.split("/").slice(0, 2).join("/"), ...args.path.split("/").slice(2)]
          : args.path.split("/");
        const target = aliases[head];
        if (!target || target === args.path) return undefined;
        const result = await build.resolve([target, ...rest].join("/"), {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: { aliased: true },
        });
        return result.errors.length ? { errors: result.errors } : result;
      });
    },
  };
}

/** Node built-ins imported without the `node:` prefix (by npm packages) become `node:` externals. */
function nodeBuiltinsPlugin(): esbuild.Plugin {
  const names = new Set(builtinModules.filter((name) => !name.startsWith("_")));
  return {
    name: "node-builtins",
    setup(build) {
      build.onResolve({ filter: /^[a-z_/]+$/ }, (args) => {
        const base = args.path.split("/")[0];
        if (!names.has(base)) return undefined;
        return { path: `node:${args.path}`, external: true };
      });
    },
  };
}

/** Size of what a build wrote, for reports. */
export interface BundleResult {
  /** Output file. */
  outfile: string;
  /** Bytes written. */
  bytes: number;
  /** Milliseconds the build took. */
  milliseconds: number;
}

// CommonJS packages bundled into an ES module call require() for node built-ins.
const REQUIRE_SHIM = 'import { createRequire as __dinogpuCreateRequire } from "node:module";\n' +
  "const require = __dinogpuCreateRequire(import.meta.url);";

/** Bundles the CLI into one ES module at `outfile` (for `deno run` and `deno compile`). */
export async function bundleCli(
  outfile: string = join(ROOT, "dist", "dinogpu.js"),
): Promise<BundleResult> {
  const start = performance.now();
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, "cli", "main.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "esnext",
    packages: "bundle",
    external: ["node:*"],
    banner: { js: REQUIRE_SHIM },
    plugins: [nodeBuiltinsPlugin(), importMapPlugin()],
    logLevel: "warning",
    legalComments: "eof",
  });
  return { outfile, bytes: Deno.statSync(outfile).size, milliseconds: performance.now() - start };
}

/** The example page's static files, copied by `bundleBrowser` into a folder of its own. */
export const PAGE_FILES: readonly string[] = ["index.html", "sample.png", "sample.safetensors"];

/**
 * Bundles the browser inference path and the example page's script into `directory`, with the
 * page's static files (`PAGE_FILES`) when `directory` is not examples/browser itself.
 */
export async function bundleBrowser(
  directory: string = join(ROOT, "examples", "browser"),
): Promise<BundleResult> {
  const start = performance.now();
  const outfile = join(directory, "dinogpu.js");
  const common: esbuild.BuildOptions = {
    absWorkingDir: ROOT,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    plugins: [importMapPlugin()],
    logLevel: "warning",
  };
  await esbuild.build({ ...common, entryPoints: [join(ROOT, "src", "browser.ts")], outfile });
  await esbuild.build({
    ...common,
    entryPoints: [join(ROOT, "examples", "browser", "main.ts")],
    outfile: join(directory, "main.js"),
    // the page loads the library bundle it sits next to
    plugins: [{
      name: "library-external",
      setup(build) {
        build.onResolve(
          { filter: /browser\.ts$/ },
          () => ({ path: "./dinogpu.js", external: true }),
        );
      },
    }],
  });
  const page = join(ROOT, "examples", "browser");
  if (resolve(directory) !== page) {
    for (const name of PAGE_FILES) await Deno.copyFile(join(page, name), join(directory, name));
  }
  return { outfile, bytes: Deno.statSync(outfile).size, milliseconds: performance.now() - start };
}

/** Stops esbuild's service process (call once when done building). */
export function stopBundler(): Promise<void> {
  return esbuild.stop();
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".css": "text/css",
};

/** Serves the files of `directory` (no listing, no `..`) as a static site. */
export function staticHandler(directory: string): (request: Request) => Promise<Response> {
  return async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    const relative = path === "/" ? "index.html" : path.slice(1);
    if (relative.split("/").includes("..")) return new Response("forbidden", { status: 403 });
    try {
      const body = await Deno.readFile(join(directory, relative));
      const extension = relative.slice(relative.lastIndexOf("."));
      return new Response(body, {
        headers: { "content-type": CONTENT_TYPES[extension] ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  };
}

if (import.meta.main) {
  const args = [...Deno.args];
  const option = (name: string) => {
    const index = args.indexOf(name);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const only = option("--only");
  try {
    if (only !== "browser") {
      const result = await bundleCli(option("--cli") ? resolve(option("--cli")!) : undefined);
      console.log(
        `bundle: ${result.outfile} ${result.bytes} bytes ${result.milliseconds.toFixed(0)} ms`,
      );
    }
    if (only !== "cli") {
      const directory = option("--browser") ? resolve(option("--browser")!) : undefined;
      const result = await bundleBrowser(directory);
      console.log(
        `bundle: ${result.outfile} ${result.bytes} bytes ${result.milliseconds.toFixed(0)} ms`,
      );
    }
  } finally {
    await stopBundler();
  }
  if (args.includes("--serve")) {
    const port = Number(option("--port") ?? 8000);
    Deno.serve(
      { hostname: "127.0.0.1", port },
      staticHandler(join(ROOT, "examples", "browser")),
    );
  }
}
