/**
 * The table at the end of bench/gpu_check.sh: reads the JSON files that script wrote into a folder
 * and prints one Markdown table of what was measured (adapter, matmul GFLOP/s, attention GFLOP/s
 * per variant, inference and training images/s with peak GPU bytes, the PyTorch peer's figures,
 * the test suite's summary).
 *
 *   deno run --allow-read bench/gpu_check_table.ts runs/gpu_check
 * @module
 */

const folder = Deno.args[0] ?? "runs/gpu_check";

function readLines(name: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${folder}/${name}`);
  } catch {
    return [];
  }
  const rows: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim().startsWith("{")) continue;
    try {
      rows.push(JSON.parse(line));
    } catch {
      // a line cut off by a killed step: leave it out
    }
  }
  return rows;
}

function readText(name: string): string {
  try {
    return Deno.readTextFileSync(`${folder}/${name}`);
  } catch {
    return "";
  }
}

const mebibytes = (bytes: unknown) =>
  typeof bytes === "number" ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : "";

const rows: string[][] = [];
const add = (what: string, figure: string, detail = "") => rows.push([what, figure, detail]);

const smi = readText("nvidia_smi.txt").trim();
if (smi) add("GPU (nvidia-smi)", smi);
const [info] = readLines("info.json");
if (info) {
  add(
    "WebGPU adapter",
    `${info.adapter} (${info.backend})`,
    `features ${(info.features as string[]).join(", ")}; subgroup matmul ${info.subgroupMatmul}`,
  );
} else add("WebGPU adapter", "none found", readText("info.err").trim().split("\n")[0] ?? "");

for (const row of readLines("matmul.jsonl")) {
  const transposes = `${row.transposeA ? " tA" : ""}${row.transposeB ? " tB" : ""}`;
  add(
    `matmul ${row.m} x ${row.n} x ${row.k}${transposes}`,
    `${row.gflops} GFLOP/s`,
    `${row.variant} (${row.milliseconds} ms; default ${row.defaultVariant})`,
  );
}
// attention.txt (bench/attention_gflops.ts): per shape the fastest variant forward + backward,
// and what "auto" ran
const attention = new Map<string, { variant: string; gflops: number; auto?: boolean }[]>();
for (const line of readText("attention.txt").split("\n")) {
  const match = line.match(
    /^(.*) (\S+) forward [\d.]+ ms [\d.]+ GFLOP\/s .*forward \+ backward [\d.]+ ms ([\d.]+) GFLOP\/s(\s+<- auto)?/,
  );
  if (!match) continue;
  const [, shape, variant, gflops, auto] = match;
  if (!attention.has(shape)) attention.set(shape, []);
  attention.get(shape)!.push({ variant, gflops: Number(gflops), auto: Boolean(auto) });
}
for (const [shape, runs] of attention) {
  const best = runs.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  const auto = runs.find((run) => run.auto);
  add(
    `attention ${shape}, forward + backward`,
    `${best.gflops} GFLOP/s`,
    `${best.variant} (auto: ${auto ? `${auto.variant}, ${auto.gflops}` : "not measured"}; ` +
      runs.map((run) => `${run.variant} ${run.gflops}`).join(", ") + ")",
  );
}
for (const row of [...readLines("model.jsonl"), ...readLines("tuned.jsonl")]) {
  const training = row.localCrops !== undefined;
  add(
    `${training ? "DINO training step" : "inference"} ${row.arch}/${row.patch} ${row.size} px, ` +
      `batch ${row.batch}${
        training ? `, ${row.localCrops} local crops of ${row.localSize}, out_dim ${row.outDim}` : ""
      }${row.precision === "f16" ? ", f16" : ""}${row.tuned ? ", after --tune" : ""}`,
    `${row.imagesPerSecond} images/s`,
    `${training ? row.millisecondsPerStep : row.millisecondsPerBatch} ms per ${
      training ? "step" : "batch"
    }, peak ${mebibytes(row.peakGpuBytes)}`,
  );
}
const metrics = readLines("train_metrics.jsonl").filter((m) =>
  typeof m.images_per_second === "number"
);
const [train] = readLines("train.json");
if (train || metrics.length > 0) {
  const last = metrics.at(-1);
  add(
    "DINO training step (train --preset dino, see the script's flags)",
    last ? `${(last.images_per_second as number).toFixed(2)} images/s` : "no metrics",
    `last log interval (step ${last?.step}); whole run ${
      typeof train?.images_per_second === "number" ? train.images_per_second.toFixed(2) : "?"
    } images/s incl. warm-up, peak ${mebibytes(train?.peak_gpu_bytes)}`,
  );
}
for (const row of readLines("torch.jsonl")) {
  add(
    `PyTorch ${row.version} ${row.device}${row.gpu ? ` (${row.gpu})` : ""} ${row.precision}, ` +
      `${row.what} ${row.arch}/${row.patch} ${row.size} px, batch ${row.batch}`,
    `${row.images_per_second} images/s`,
    `${row.threads} CPU threads${
      row.peak_gpu_bytes ? `, peak ${mebibytes(row.peak_gpu_bytes)}` : ""
    }`,
  );
}
// deno test colours its summary line: strip the escape sequences
const ESCAPE = String.fromCharCode(27);
const tests = readText("tests.log").replaceAll(new RegExp(`${ESCAPE}\\[[0-9;]*m`, "g"), "");
const summary = tests.split("\n").find((line) => /^(ok|FAILED) \|/.test(line));
const exit = /tests exit code (\d+)/.exec(tests)?.[1];
if (tests) {
  add("test suite", summary ?? "no summary (cut off?)", exit === undefined ? "" : `exit ${exit}`);
}

console.log("| what | figure | detail |\n| --- | --- | --- |");
for (const row of rows) {
  console.log(`| ${row.map((cell) => cell.replaceAll("|", "/")).join(" | ")} |`);
}
