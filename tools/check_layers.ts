/**
 * The layering guard: every relative import in src/, cli/ and mod.ts must point down the layers of
 * DESIGN.md's "Layout" (or stay within its own layer), and no module may take part in an import
 * cycle.
 *
 * Layers, bottom to top:
 *
 * | layer | folders                                                         |
 * | ----- | --------------------------------------------------------------- |
 * | 0     | src/gpu                                                         |
 * | 1     | src/tensor, src/ops, src/optim (the optimizer op family)        |
 * | 2     | src/nn                                                          |
 * | 3     | src/data, src/io                                                |
 * | 4     | src/train, src/eval, src/curate                                 |
 * | 5     | cli/, mod.ts, src/browser.ts (the entry points)                 |
 *
 * Rules:
 * - Direction: a module may import its own layer or any layer below. Every import counts here,
 *   `import type` included: a type-only import upward still makes the lower layer know the upper
 *   one, and is reported (marked "type-only").
 * - Cycles: the graph of module imports must have no cycle. Static imports, re-exports
 *   (`export ... from`) and dynamic `import("...")` are edges; type-only imports (`import type`,
 *   `export type ... from`, and imports whose every name is marked `type`) are erased at run time
 *   and are not.
 * - A file under src/ outside every listed folder is reported, so that a new folder gets a layer.
 *
 * Only relative specifiers (`./`, `../`) are followed; bare and `npm:`/`jsr:` specifiers are
 * outside the tree. Comments are skipped, so an import written in a doc comment does not count.
 *
 * Usage: `deno task layers` (exit 1 and one line per violation, or one OK line).
 * @module
 */

/** The layer of each top-level folder (its path from the repository root). */
export const LAYERS: Readonly<Record<string, number>> = {
  "src/gpu": 0,
  "src/tensor": 1,
  "src/ops": 1,
  "src/optim": 1,
  "src/nn": 2,
  "src/data": 3,
  "src/io": 3,
  "src/train": 4,
  "src/eval": 4,
  "src/curate": 4,
  "cli": 5,
};

/** Files outside the folders above with a layer of their own: the entry points. */
export const ENTRY_FILES: Readonly<Record<string, number>> = {
  "mod.ts": 5,
  "src/browser.ts": 5,
};

/** One relative import of a module. */
export interface ImportEdge {
  /** The specifier as written (`../io/safetensors.ts`). */
  specifier: string;
  /** True for `import type`, `export type ... from` and imports whose every name is `type`. */
  typeOnly: boolean;
  /** True for `import("...")`. */
  dynamic: boolean;
}

/** Where a module sits: its layer and the name of its folder (`io`, `cli`, `mod.ts`). */
export interface Placement {
  layer: number;
  name: string;
}

/** A module's text prepared for matching: same length and lines as the source. */
export interface ScannedSource {
  /** The source with every comment replaced by spaces. */
  code: string;
  /** `code` with the contents of strings, template text and regular expressions replaced by "x". */
  masked: string;
}

const REGEX_KEYWORDS = new Set([
  "return",
  "typeof",
  "case",
  "do",
  "else",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "await",
  "yield",
]);

/**
 * Splits `source` into code, comments and literals (strings, template text, regular expressions:
 * a `/` starts one where an operand is due, the usual rule). Both results keep every offset and
 * newline of the source, so a match in `masked` can be read in `code`.
 */
export function scanSource(source: string): ScannedSource {
  const code = source.split("");
  const masked = source.split("");
  const n = source.length;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) {
      if (code[k] !== "\n") code[k] = masked[k] = " ";
    }
  };
  const hide = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (masked[k] !== "\n") masked[k] = "x";
  };
  let i = 0;
  // the last character outside comments and white space, and the word it ends (if any)
  let previous = "";
  let previousWord = "";
  const operandDue = () =>
    previous === "" || "(,=:[!&|?{};+-*%<>~^".includes(previous) ||
    REGEX_KEYWORDS.has(previousWord);
  // one entry per open `${`: the braces opened inside it and not yet closed
  const templateBraces: number[] = [];
  // from i (just after "`" or "}") to the closing "`" or an opening "${"
  const readTemplate = () => {
    const start = i;
    while (i < n) {
      if (source[i] === "\\") {
        i += 2;
      } else if (source[i] === "`") {
        hide(start, i);
        i++;
        return;
      } else if (source[i] === "$" && source[i + 1] === "{") {
        hide(start, i);
        i += 2;
        templateBraces.push(0);
        return;
      } else {
        i++;
      }
    }
    hide(start, n);
  };
  while (i < n) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end < 0 ? n : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      const start = ++i;
      while (i < n && source[i] !== c && source[i] !== "\n") i += source[i] === "\\" ? 2 : 1;
      hide(start, Math.min(i, n));
      i++;
      previous = c;
      previousWord = "";
    } else if (c === "`") {
      i++;
      readTemplate();
      previous = "`";
      previousWord = "";
    } else if (c === "/" && operandDue()) {
      const start = ++i;
      let inClass = false;
      while (i < n && source[i] !== "\n") {
        const r = source[i];
        if (r === "\\") i++;
        else if (r === "[") inClass = true;
        else if (r === "]") inClass = false;
        else if (r === "/" && !inClass) break;
        i++;
      }
      hide(start, Math.min(i, n));
      i++;
      while (i < n && /[a-z]/i.test(source[i])) i++;
      previous = "/";
      previousWord = "";
    } else if (c === "}" && templateBraces.length > 0 && templateBraces.at(-1) === 0) {
      templateBraces.pop();
      i++;
      readTemplate();
      previous = "`";
      previousWord = "";
    } else if (/[A-Za-z0-9_$]/.test(c)) {
      const start = i;
      while (i < n && /[A-Za-z0-9_$]/.test(source[i])) i++;
      previousWord = source.slice(start, i);
      previous = "a";
    } else {
      if (templateBraces.length > 0 && c === "{") templateBraces[templateBraces.length - 1]++;
      if (templateBraces.length > 0 && c === "}") templateBraces[templateBraces.length - 1]--;
      if (!/\s/.test(c)) {
        previous = c;
        previousWord = "";
      }
      i++;
    }
  }
  return { code: code.join(""), masked: masked.join("") };
}

/** Static `import ... from`, `export ... from` and `import type ... from`. */
const FROM_IMPORT =
  /(?:^|[;}\n])\s*(import|export)\s+(type\s+)?([^;'"`()=]*?)\s*from\s*(["'])([^"'\n]+)\4/dg;
/** Side-effect `import "..."`. */
const BARE_IMPORT = /(?:^|[;}\n])\s*import\s*(["'])([^"'\n]+)\1/dg;
/** Dynamic `import("...")` with a literal specifier. */
const DYNAMIC_IMPORT = /(?<![.\w$])import\s*\(\s*(["'])([^"'\n]+)\1\s*[,)]/dg;

/** True when every name in an import clause (`{ type A, type B }`) is marked `type`. */
function everyNameIsType(clause: string): boolean {
  const braces = /^\{([^}]*)\}$/.exec(clause.trim());
  if (!braces) return false;
  const names = braces[1].split(",").map((name) => name.trim()).filter((name) => name !== "");
  return names.length > 0 && names.every((name) => /^type\s/.test(name));
}

/** The imports of one module's source text, in order of appearance. */
export function parseImports(source: string): ImportEdge[] {
  const { code, masked } = scanSource(source);
  const found: { at: number; edge: ImportEdge }[] = [];
  // matched in `masked` (nothing inside a literal looks like an import there), read in `code`
  const specifier = (match: RegExpExecArray, group: number) => {
    const [start, end] = match.indices![group]!;
    return code.slice(start, end);
  };
  for (const match of masked.matchAll(FROM_IMPORT)) {
    const typeOnly = match[2] !== undefined || everyNameIsType(code.slice(...match.indices![3]!));
    found.push({
      at: match.index,
      edge: { specifier: specifier(match, 5), typeOnly, dynamic: false },
    });
  }
  for (const match of masked.matchAll(BARE_IMPORT)) {
    found.push({
      at: match.index,
      edge: { specifier: specifier(match, 2), typeOnly: false, dynamic: false },
    });
  }
  for (const match of masked.matchAll(DYNAMIC_IMPORT)) {
    found.push({
      at: match.index,
      edge: { specifier: specifier(match, 2), typeOnly: false, dynamic: true },
    });
  }
  return found.sort((a, b) => a.at - b.at).map((entry) => entry.edge);
}

/** Where module `path` (from the repository root, `/`-separated) sits, or undefined if nowhere. */
export function placement(path: string): Placement | undefined {
  if (Object.hasOwn(ENTRY_FILES, path)) return { layer: ENTRY_FILES[path], name: path };
  for (const [folder, layer] of Object.entries(LAYERS)) {
    if (path.startsWith(`${folder}/`)) return { layer, name: folder.replace(/^src\//, "") };
  }
  return undefined;
}

/** Resolves relative `specifier` written in module `from`; undefined for a non-relative one. */
export function resolveSpecifier(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return undefined;
  const parts = from.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/");
}

/**
 * Checks a tree of modules, `files` mapping each path (from the repository root) to its source.
 * Returns one line per violation, sorted: upward imports, modules outside every layer, cycles.
 */
export function checkLayers(files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const graph = new Map<string, Set<string>>();
  for (const [path, source] of files) {
    const from = placement(path);
    if (!from) {
      problems.push(`${path} is in no layer: give its folder a layer in tools/check_layers.ts`);
    }
    const targets = new Set<string>();
    graph.set(path, targets);
    for (const edge of parseImports(source)) {
      const target = resolveSpecifier(path, edge.specifier);
      if (target === undefined || !files.has(target)) continue;
      if (!edge.typeOnly) targets.add(target);
      const to = placement(target);
      if (from && to && to.layer > from.layer) {
        problems.push(
          `${path} imports ${target}: ${from.name} (layer ${from.layer}) may not import ` +
            `${to.name} (layer ${to.layer})${edge.typeOnly ? " (type-only import)" : ""}`,
        );
      }
    }
  }
  problems.sort();
  const cycles = findCycles(graph).map((cycle) => `import cycle: ${cycle.join(" -> ")}`);
  return [...problems, ...cycles.sort()];
}

/**
 * One cycle per strongly connected component of `graph` that has one (Tarjan's algorithm), each
 * as a path starting and ending at the component's first module by name, through the fewest
 * modules.
 */
export function findCycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      const selfLoop = component.length === 1 && (graph.get(node)?.has(node) ?? false);
      if (component.length > 1 || selfLoop) components.push(component);
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort()[0];
    // breadth-first from start back to start, inside the component
    const previous = new Map<string, string>();
    const queue = [start];
    for (let head = 0; head < queue.length; head++) {
      const node = queue[head];
      for (const next of [...(graph.get(node) ?? [])].sort()) {
        if (!members.has(next)) continue;
        if (next === start) {
          const path = [start];
          for (let at: string | undefined = node; at !== start; at = previous.get(at!)) {
            path.push(at!);
          }
          return [start, ...path.slice(1).reverse(), start];
        }
        if (!previous.has(next)) {
          previous.set(next, node);
          queue.push(next);
        }
      }
    }
    return [start, start];
  });
}

/** Reads every .ts file under `folders` and the files `extra` below `root` into a map by path. */
export async function readTree(
  root: URL,
  folders: readonly string[] = ["src", "cli"],
  extra: readonly string[] = ["mod.ts"],
): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (folder: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(new URL(`${folder}/`, root)));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    for (const entry of entries) {
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && entry.name.endsWith(".ts")) {
        files.set(path, await Deno.readTextFile(new URL(path, root)));
      }
    }
  };
  for (const folder of folders) await walk(folder);
  for (const path of extra) {
    try {
      files.set(path, await Deno.readTextFile(new URL(path, root)));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return files;
}

if (import.meta.main) {
  const root = Deno.args[0] === undefined
    ? new URL("../", import.meta.url)
    : new URL(`${Deno.args[0].replace(/\/?$/, "/")}`, `file://${Deno.cwd()}/`);
  const files = await readTree(root);
  const problems = checkLayers(files);
  if (problems.length > 0) {
    for (const problem of problems) console.error(problem);
    Deno.exit(1);
  }
  console.log(`layers OK: ${files.size} modules, every import points down, no import cycle`);
}
