/**
 * Embeds every `kernels/<family>/*.wgsl` file into `src/gpu/kernel_sources.generated.ts`, so that JSR,
 * `deno compile` and the browser bundle ship the kernels and nothing reads files at run time.
 *
 * WGSL has no include, so this step adds one: a line `// #include "name.wgsl"` in a kernel is
 * replaced by the text of `kernels/include/name.wgsl` (itself resolved the same way, so includes
 * may include). Each file is included once per kernel: a later line naming it again is dropped.
 * Files under `kernels/include/` are not kernels: they get no entry of their own, and every kernel
 * is embedded as one flat WGSL text.
 *
 * A kernel may also name other forms of itself: a line
 * `// #form f16: attention_inputs.wgsl -> attention_inputs_f16.wgsl, a.wgsl -> b.wgsl` adds the entry
 * `<kernel>_f16`, the same kernel with each named include (wherever it is included, nested too)
 * replaced by the other file, such as f32 bindings by f16 ones. A swap whose include the kernel
 * never reaches is an error (a misspelt name would otherwise give a form equal to the kernel).
 *
 * Usage: `deno task kernels` (write) or `deno task kernels:check` (exit 1 when out of date).
 * @module
 */
const root = new URL("../", import.meta.url);
const kernelDir = new URL("kernels/", root);
const includeDir = new URL("include/", kernelDir);
const target = new URL("src/gpu/kernel_sources.generated.ts", root);

/** Matches an include line; group 1 is the file name inside the quotes. */
const INCLUDE_LINE = /^\s*\/\/\s*#include\s+"([^"]*)"\s*$/;

/** Allowed include names: a plain file name in kernels/include/ ending in `.wgsl`. */
const INCLUDE_NAME = /^[A-Za-z0-9_-]+\.wgsl$/;

/** Matches a form line; group 1 is the form's name, group 2 its swaps (`a.wgsl -> b.wgsl, ...`). */
const FORM_LINE = /^\s*\/\/\s*#form\s+([A-Za-z0-9_]+)\s*:\s*(.*?)\s*$/;

/** One swap of a form: `a.wgsl -> b.wgsl`. */
const FORM_SWAP = /^([A-Za-z0-9_-]+\.wgsl)\s*->\s*([A-Za-z0-9_-]+\.wgsl)$/;

/** A form of a kernel: its name (the entry's suffix) and which include stands for which. */
export interface KernelForm {
  /** The suffix of the form's entry: `<kernel>_<name>`. */
  name: string;
  /** Include name -> the include read in its place. */
  swaps: Map<string, string>;
}

/** The forms a kernel's `// #form` lines name; throws naming the kernel on a malformed line. */
export function kernelForms(kernel: string, source: string): KernelForm[] {
  const forms: KernelForm[] = [];
  for (const line of source.split("\n")) {
    const match = FORM_LINE.exec(line);
    if (!match) continue;
    const swaps = new Map<string, string>();
    for (const part of match[2].split(",")) {
      const swap = FORM_SWAP.exec(part.trim());
      if (!swap) {
        throw new Error(
          `embed_kernels: kernel "${kernel}" form "${match[1]}": "${part.trim()}" is not ` +
            `"name.wgsl -> other.wgsl"`,
        );
      }
      swaps.set(swap[1], swap[2]);
    }
    if (forms.some((form) => form.name === match[1])) {
      throw new Error(`embed_kernels: kernel "${kernel}" names form "${match[1]}" twice`);
    }
    forms.push({ name: match[1], swaps });
  }
  return forms;
}

/**
 * Reads include `name` (a file name such as `attention_params.wgsl`); returns its text, or
 * `undefined` when there is no such file.
 */
export type IncludeReader = (name: string) => Promise<string | undefined>;

/** Reads includes from `kernels/include/`. */
export const readIncludeFile: IncludeReader = async (name) => {
  try {
    return await Deno.readTextFile(new URL(name, includeDir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
};

/**
 * Replaces every `// #include "name.wgsl"` line of kernel `kernel` (source `source`) with the text
 * of that include, recursively, each include at most once (a repeated or circular include line is
 * dropped); with `swaps` (a form, see `kernelForms`) an include it names is read from the file it
 * maps to. Throws naming the kernel, the include and the chain of includes that led to it when an
 * include is missing or its name is not a plain `.wgsl` file name, and when a swap is never used.
 */
export async function resolveIncludes(
  kernel: string,
  source: string,
  read: IncludeReader = readIncludeFile,
  swaps: Map<string, string> = new Map(),
): Promise<string> {
  const included = new Set<string>();
  const expand = async (text: string, chain: string[]): Promise<string[]> => {
    const out: string[] = [];
    for (const line of text.split("\n")) {
      const match = INCLUDE_LINE.exec(line);
      if (!match) {
        out.push(line);
        continue;
      }
      const name = match[1];
      const where = chain.length === 0 ? "" : ` (through ${chain.join(" -> ")})`;
      if (!INCLUDE_NAME.test(name)) {
        throw new Error(
          `embed_kernels: kernel "${kernel}" includes "${name}"${where}: an include must be a ` +
            `file name in kernels/include/ ending in .wgsl`,
        );
      }
      if (included.has(name)) continue;
      included.add(name);
      const file = swaps.get(name) ?? name;
      const body = await read(file);
      if (body === undefined) {
        throw new Error(
          `embed_kernels: kernel "${kernel}" includes "${file}"${where}, but ` +
            `kernels/include/${file} does not exist`,
        );
      }
      // a trailing newline of the include would leave a blank line where the include line was
      const trimmed = body.endsWith("\n") ? body.slice(0, -1) : body;
      out.push(...await expand(trimmed, [...chain, name]));
    }
    return out;
  };
  const text = (await expand(source, [])).join("\n");
  for (const [name, replacement] of swaps) {
    if (!included.has(name)) {
      throw new Error(
        `embed_kernels: kernel "${kernel}" swaps "${name}" for "${replacement}" in a form, but ` +
          `never includes "${name}"`,
      );
    }
  }
  return text;
}

/**
 * The kernel names: every `.wgsl` file under kernels/ but kernels/include/, as its path below
 * kernels/ without `.wgsl` (`matmul/subgroup`), one folder per op family.
 */
export async function kernelNames(folder: URL = kernelDir, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(folder)) {
    if (entry.isDirectory && !(prefix === "" && entry.name === "include")) {
      names.push(
        ...await kernelNames(new URL(`${entry.name}/`, folder), `${prefix}${entry.name}/`),
      );
    } else if (entry.isFile && entry.name.endsWith(".wgsl")) {
      names.push(`${prefix}${entry.name.slice(0, -5)}`);
    }
  }
  return names.sort();
}

/** Builds the text of the generated module from the kernel files (includes resolved). */
export async function generate(): Promise<string> {
  const names = await kernelNames();
  const lines = [
    "// Generated by tools/embed_kernels.ts from kernels/<family>/*.wgsl (includes from",
    "// kernels/include/ resolved). Do not edit: run `deno task kernels`.",
    "",
    "/** WGSL source of every kernel file, keyed by its path below kernels/ without `.wgsl`. */",
    "export const KERNEL_SOURCES = {",
  ];
  const entries: [string, string][] = [];
  for (const name of names) {
    const source = await Deno.readTextFile(new URL(`${name}.wgsl`, kernelDir));
    entries.push([name, await resolveIncludes(name, source)]);
    for (const form of kernelForms(name, source)) {
      const text = await resolveIncludes(name, source, readIncludeFile, form.swaps);
      entries.push([`${name}_${form.name}`, text]);
    }
  }
  entries.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  for (const [name, text] of entries) {
    if (names.includes(name) && entries.filter(([other]) => other === name).length > 1) {
      throw new Error(`embed_kernels: the form entry "${name}" has the name of a kernel file`);
    }
    lines.push(`  ${JSON.stringify(name)}: ${JSON.stringify(text)},`);
  }
  lines.push("} as const;", "");
  return lines.join("\n");
}

if (import.meta.main) {
  const text = await generate();
  if (Deno.args.includes("--check")) {
    let current = "";
    try {
      current = await Deno.readTextFile(target);
    } catch {
      current = "";
    }
    if (current !== text) {
      console.error(
        "src/gpu/kernel_sources.generated.ts is out of date with kernels/**/*.wgsl and " +
          "kernels/include/*.wgsl: run `deno task kernels`",
      );
      Deno.exit(1);
    }
    console.log("kernel module up to date");
  } else {
    await Deno.writeTextFile(target, text);
    console.log(`wrote ${target.pathname}`);
  }
}
