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
 * Prints one JSON object with GFLOP/s of each and the ratio ours / TF.js.
 * @module
 */
import { initGpu } from "../src/gpu/device.ts";
import {
  MATMUL_VARIANTS,
  type MatmulProblem,
  timeMatmulVariant,
} from "../src/tensor/ops/matmul_variants.ts";

const sizeFlag = Deno.args.indexOf("--size");
const size = sizeFlag >= 0 ? Number(Deno.args[sizeFlag + 1]) : 1024;
const repetitionsFlag = Deno.args.indexOf("--repetitions");
const repetitions = repetitionsFlag >= 0 ? Number(Deno.args[repetitionsFlag + 1]) : 5;
const flops = 2 * size ** 3;

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

async function timeTfjs(): Promise<Record<string, unknown>> {
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
  const start = performance.now();
  const results: TfTensor[] = [];
  for (let i = 0; i < repetitions; i++) results.push(tf.matMul(a, b));
  await results.at(-1)!.data(); // in-order queue: the last result is ready when all are
  const milliseconds = (performance.now() - start) / repetitions;
  for (const result of [a, b, ...results]) result.dispose();
  return { backend: tf.getBackend(), gflops: flops / milliseconds / 1e6, milliseconds };
}

async function timeOurs(): Promise<Record<string, unknown>> {
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
  const timings = [];
  for (const variant of MATMUL_VARIANTS.filter((v) => v.supports(problem) && v.vec4)) {
    timings.push(await timeMatmulVariant(variant.name, size, size, size, { repetitions }));
  }
  const best = timings.reduce((x, y) => (y.gflops > x.gflops ? y : x));
  return {
    variant: best.variant,
    gflops: best.gflops,
    milliseconds: best.milliseconds,
    all: Object.fromEntries(timings.map((t) => [t.variant, Math.round(t.gflops * 100) / 100])),
  };
}

async function timeOpenBlas(): Promise<Record<string, unknown> | string> {
  const script = [
    "import numpy, time",
    `a = numpy.random.rand(${size}, ${size}).astype(numpy.float32)`,
    "b = a.copy(); a @ b",
    "t = time.perf_counter()",
    `for _ in range(${repetitions}): a @ b`,
    `print((time.perf_counter() - t) / ${repetitions} * 1000)`,
  ].join("\n");
  try {
    const output = await new Deno.Command("python3", { args: ["-c", script], stderr: "null" })
      .output();
    if (!output.success) return "skipped (python3 without numpy)";
    const milliseconds = Number(new TextDecoder().decode(output.stdout).trim());
    return { gflops: flops / milliseconds / 1e6, milliseconds, via: "numpy (float32 @)" };
  } catch {
    return "skipped (no python3)";
  }
}

const gpu = await initGpu();
const ours = await timeOurs();
let tfjs: Record<string, unknown> | string;
try {
  tfjs = await timeTfjs();
} catch (error) {
  tfjs = `failed: ${(error as Error).message.split("\n")[0]}`;
}
const openBlas = await timeOpenBlas();
const ratio = typeof tfjs === "object"
  ? Math.round((ours.gflops as number) / (tfjs.gflops as number) * 100) / 100
  : undefined;
console.log(JSON.stringify({
  adapter: gpu.description,
  size,
  repetitions,
  ours,
  tfjs,
  openBlas,
  ratioOursOverTfjs: ratio,
}));
Deno.exit(0); // TF.js keeps its own device alive
