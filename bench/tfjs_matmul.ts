/**
 * Side-by-side: TF.js 4.22's WebGPU backend and our best matmul variant at the same size, in one
 * process on the same adapter, plus OpenBLAS through numpy when python3 has it.
 *
 * TF.js is not a dependency of this project (nodeModulesDir is "manual"): install it elsewhere
 * and point Deno at that directory's config, e.g.
 *
 * ```sh
 * mkdir -p /tmp/tfjs && cd /tmp/tfjs
 * npm i @tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-backend-webgpu@4.22.0
 * echo '{ "nodeModulesDir": "manual" }' > deno.json
 * cd /work/main && deno run -A --config /tmp/tfjs/deno.json bench/tfjs_matmul.ts --size 1024
 * ```
 * Flags: `--size <n>` (default 1024), `--rounds <r>` (default 3), `--repetitions <r>` launches
 * per timing (default 2), `--variants a,b` (default every variant that supports the shape).
 *
 * The machine may be shared, so the contenders are timed in interleaved rounds (each of our
 * variants, then TF.js, then again) and each keeps its best round: a burst of load elsewhere hits
 * every contender alike instead of one. Prints one JSON object with GFLOP/s of every variant and
 * of TF.js, the best variant, the ratio ours / TF.js and ours / OpenBLAS.
 * @module
 */
import { initGpu } from "../src/gpu/device.ts";
import { MATMUL_VARIANTS, type MatmulProblem } from "../src/ops/matmul/variants.ts";
import { chooseMatmulVariant } from "../src/ops/matmul/choice.ts";
import { timeMatmulVariant } from "../src/ops/matmul/tuning.ts";

function flag(name: string, fallback: string): string {
  const index = Deno.args.indexOf(`--${name}`);
  return index >= 0 ? Deno.args[index + 1] : fallback;
}

const size = Number(flag("size", "1024"));
const rounds = Number(flag("rounds", "3"));
const repetitions = Number(flag("repetitions", "2"));
const flops = 2 * size ** 3;
const round2 = (value: number) => Math.round(value * 100) / 100;

/** The few TF.js calls used here. */
interface TfTensor {
  data(): Promise<Float32Array>;
  dispose(): void;
}
interface Tf {
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  randomUniform(shape: number[]): TfTensor;
  matMul(a: TfTensor, b: TfTensor): TfTensor;
}

/** Starts TF.js on its WebGPU backend and returns a timer of `repetitions` tf.matMul calls. */
async function tfjsTimer(): Promise<() => Promise<number>> {
  // Specifiers held in variables: `deno check` of the project does not try to resolve them.
  const coreSpecifier = "npm:@tensorflow/tfjs-core@4.22.0";
  const webgpuSpecifier = "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
  const tf = (await import(coreSpecifier)) as unknown as Tf;
  await import(webgpuSpecifier);
  if (!(await tf.setBackend("webgpu"))) throw new Error("TF.js: the webgpu backend did not start");
  await tf.ready();
  const a = tf.randomUniform([size, size]);
  const b = tf.randomUniform([size, size]);
  const warm = tf.matMul(a, b); // compile and warm up
  await warm.data();
  warm.dispose();
  return async () => {
    const start = performance.now();
    const results: TfTensor[] = [];
    for (let i = 0; i < repetitions; i++) results.push(tf.matMul(a, b));
    await results.at(-1)!.data(); // in-order queue: the last result is ready when all are
    const milliseconds = (performance.now() - start) / repetitions;
    for (const result of results) result.dispose();
    return milliseconds;
  };
}

async function timeOpenBlas(): Promise<Record<string, unknown> | string> {
  const script = [
    "import numpy, time",
    `a = numpy.random.rand(${size}, ${size}).astype(numpy.float32)`,
    "b = a.copy(); a @ b",
    "best = 1e9",
    "for _ in range(5):",
    "    t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)",
    "print(best * 1000)",
  ].join("\n");
  // The first python3 with numpy: the one on PATH, else the system's.
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const output = await new Deno.Command(python, { args: ["-c", script], stderr: "null" })
        .output();
      if (!output.success) continue;
      const milliseconds = Number(new TextDecoder().decode(output.stdout).trim());
      return { gflops: round2(flops / milliseconds / 1e6), milliseconds, via: `${python} numpy` };
    } catch {
      // not installed: try the next
    }
  }
  return "skipped (no python3 with numpy)";
}

const gpu = await initGpu();
const problem: MatmulProblem = {
  batch: 1,
  m: size,
  n: size,
  k: size,
  transposeA: false,
  transposeB: false,
  sharedA: true,
  sharedB: true,
};
const wanted = flag("variants", "");
const variants = MATMUL_VARIANTS.filter((v) =>
  v.supports(problem) && (!wanted || wanted.split(",").includes(v.name))
).map((v) => v.name);
let tfjs: (() => Promise<number>) | string;
try {
  tfjs = await tfjsTimer();
} catch (error) {
  tfjs = `failed: ${(error as Error).message.split("\n")[0]}`;
}
const best = new Map<string, number>();
const keep = (name: string, milliseconds: number) =>
  best.set(name, Math.min(best.get(name) ?? Infinity, milliseconds));
for (const name of variants) {
  await timeMatmulVariant(name, size, size, size, { repetitions: 1 }); // compile
}
for (let round = 0; round < rounds; round++) {
  for (const name of variants) {
    keep(name, (await timeMatmulVariant(name, size, size, size, { repetitions })).milliseconds);
  }
  if (typeof tfjs === "function") keep("tfjs", await tfjs());
}
const gflops = (name: string) => flops / best.get(name)! / 1e6;
const fastest = variants.reduce((x, y) => (gflops(y) > gflops(x) ? y : x));
const openBlas = await timeOpenBlas();
const ours = gflops(fastest);
console.log(JSON.stringify({
  adapter: gpu.description,
  size,
  rounds,
  repetitions,
  ours: {
    variant: fastest,
    gflops: round2(ours),
    milliseconds: round2(best.get(fastest)!),
    defaultVariant: chooseMatmulVariant(problem).name,
    all: Object.fromEntries(variants.map((name) => [name, round2(gflops(name))])),
  },
  tfjs: typeof tfjs === "function"
    ? { backend: "webgpu", gflops: round2(gflops("tfjs")), milliseconds: round2(best.get("tfjs")!) }
    : tfjs,
  openBlas,
  ratioOursOverTfjs: typeof tfjs === "function" ? round2(ours / gflops("tfjs")) : undefined,
  ratioOursOverOpenBlas: typeof openBlas === "object"
    ? Math.round(ours / (openBlas.gflops as number) * 1000) / 1000
    : undefined,
}));
Deno.exit(0); // TF.js keeps its own device alive
