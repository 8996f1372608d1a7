/**
 * Fused attention at ViT sizes.
 *
 * Group "self-attention ...": one ViT attention core (packed qkv [B, N, 3 D] in, heads merged
 * [B, N, D] out), forward + backward, two ways: the old path (reshape, permute, split, `attention`,
 * permute, reshape; baseline) against the fused `selfAttention`, at a DINO training shape (B = 32,
 * N = 65, D = 96, H = 3) and at ViT-S/16 (B = 4, N = 197, D = 384, H = 6). `deno bench` prints the
 * ratio of each group.
 *
 * Group "short sequences": `selfAttention` forward + backward at a Fashion-MNIST ViT shape (28 px
 * images, patch 7: N = 17 tokens; B = 256, D = 64, H = 4, head size 16) with the "blocked" kernels
 * (baseline) and the "rows" kernels ("auto" picks rows there).
 *
 * Groups "ViT-S/16", "ViT-S/8": `attention` on [B, H, N, 64] alone, forward and forward + backward
 * (batch ATTENTION_BENCH_BATCH, default 2). Each iteration waits for the GPU (`gpu().sync()`).
 *
 * `deno run -A bench/attention_bench.ts --compare [repeats]` times the fused kernel variants
 * (`attentionKernels.variant`: "blocked", "rows", "tiled" and "subgroup") alternately instead, forward and
 * forward + backward of `selfAttention` at the self-attention shapes (less sensitive to other
 * load on the machine), and prints the median of each. `deno run -A bench/attention_bench.ts
 * --gflops [repeats]` prints GFLOP/s of every variant ("blocked", "rows", "tiled", "subgroup") at
 * ViT shapes next to the matmul at 1024^3 (bench/attention_gflops.ts).
 * @module
 */
import { gpu, initGpu } from "../src/gpu/device.ts";
import { backward } from "../src/tensor/backward.ts";
import { attention, attentionReference, selfAttention } from "../src/ops/attention/forward.ts";
import { attentionKernels, type AttentionKernelVariant } from "../src/ops/attention/choice.ts";
import { permute, reshape, split } from "../src/ops/shape/forward.ts";
import { runGflops } from "./attention_gflops.ts";
import { type Tensor, tensor } from "../src/tensor/tensor.ts";

await initGpu();

const batch = Number(Deno.env.get("ATTENTION_BENCH_BATCH") ?? 2);
const heads = 6;
const headSize = 64;

function randomTensor(shape: number[], seed: number): Tensor {
  let state = seed >>> 0;
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = state / 2 ** 31 - 1;
  }
  return tensor(values, shape);
}

/** The path ViT blocks took before `selfAttention`: split the heads out, attend, merge. */
function permuteSplitAttention(qkv: Tensor, headCount: number): Tensor {
  const [b, n, width] = qkv.shape;
  const d = width / (3 * headCount);
  const split5 = reshape(qkv, [b, n, 3, headCount, d]);
  const ordered = permute(split5, [2, 0, 3, 1, 4]);
  const parts = split(ordered, 0, [1, 1, 1]);
  const [q, k, v] = parts.map((part) => reshape(part, [b, headCount, n, d]));
  const attended = attention(q, k, v);
  const merged = permute(attended, [0, 2, 1, 3]);
  const result = reshape(merged, [b, n, headCount * d]);
  for (const t of [split5, ordered, ...parts, q, k, v, attended, merged]) t.dispose();
  return result;
}

/** One forward + backward of `run` on `qkv` with output gradient `gradOutput`, waited for. */
async function selfAttentionStep(
  qkv: Tensor,
  gradOutput: Tensor,
  run: (input: Tensor) => Tensor,
): Promise<void> {
  qkv.requiresGrad = true;
  const output = run(qkv);
  backward(output, gradOutput);
  output.dispose();
  qkv.grad?.dispose();
  qkv.grad = undefined;
  qkv.requiresGrad = false;
  await gpu().sync();
}

const selfAttentionShapes = [
  ["Fashion-MNIST ViT dim 64", 256, 17, 64, 4, 5],
  ["DINO ViT dim 96", 32, 65, 96, 3, 5],
  ["ViT-S/16", 4, 197, 384, 6, 3],
] as const;
for (const [label, b, n, dim, headCount, iterations] of selfAttentionShapes) {
  const qkv = randomTensor([b, n, 3 * dim], 11);
  const gradOutput = randomTensor([b, n, dim], 12);
  const name = `${label} B=${b} N=${n} D=${dim} H=${headCount}`;
  const group = `self-attention ${label}`;
  const step = (run: (input: Tensor) => Tensor) => () => selfAttentionStep(qkv, gradOutput, run);
  Deno.bench(
    `permute/split + attention, forward + backward ${name}`,
    { group, baseline: true, n: iterations, warmup: 1 },
    step((input) => permuteSplitAttention(input, headCount)),
  );
  Deno.bench(
    `selfAttention, forward + backward ${name}`,
    { group, n: iterations, warmup: 1 },
    step((input) => selfAttention(input, headCount)),
  );
}

{
  const [b, n, dim, headCount] = [256, 17, 64, 4];
  const qkv = randomTensor([b, n, 3 * dim], 13);
  const gradOutput = randomTensor([b, n, dim], 14);
  const name = `B=${b} N=${n} D=${dim} H=${headCount}`;
  for (const variant of ["blocked", "rows"] as const) {
    Deno.bench(
      `selfAttention ${variant} kernels, forward + backward ${name}`,
      { group: "short sequences", baseline: variant === "blocked", n: 5, warmup: 1 },
      async () => {
        const saved = attentionKernels.variant;
        attentionKernels.variant = variant;
        try {
          await selfAttentionStep(qkv, gradOutput, (input) => selfAttention(input, headCount));
        } finally {
          attentionKernels.variant = saved;
        }
      },
    );
  }
}

for (const [label, tokens] of [["ViT-S/16", 197], ["ViT-S/8", 785]] as const) {
  const shape = [batch, heads, tokens, headSize];
  const q = randomTensor(shape, 1);
  const k = randomTensor(shape, 2);
  const v = randomTensor(shape, 3);
  const gradOutput = randomTensor(shape, 4);
  const name = `${label} B=${batch} H=${heads} N=${tokens} D=${headSize}`;

  Deno.bench(`attention forward ${name}`, { group: label, baseline: true }, async () => {
    attention(q, k, v).dispose();
    await gpu().sync();
  });

  Deno.bench(`attention forward + backward ${name}`, { group: label }, async () => {
    q.requiresGrad = k.requiresGrad = v.requiresGrad = true;
    const output = attention(q, k, v);
    backward(output, gradOutput);
    output.dispose();
    for (const input of [q, k, v]) {
      input.grad?.dispose();
      input.grad = undefined;
      input.requiresGrad = false;
    }
    await gpu().sync();
  });

  if (tokens <= 197) {
    Deno.bench(`unfused reference forward ${name}`, { group: label }, async () => {
      attentionReference(q, k, v).dispose();
      await gpu().sync();
    });
  }
}

if (Deno.args[0] === "--compare") {
  const repeats = Number(Deno.args[1] ?? 7);
  const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1];
  const variants: AttentionKernelVariant[] = ["blocked", "rows", "tiled", "subgroup"];
  const saved = attentionKernels.variant;
  for (const [label, b, n, dim, headCount] of selfAttentionShapes) {
    const qkv = randomTensor([b, n, 3 * dim], 11);
    const gradOutput = randomTensor([b, n, dim], 12);
    const forward = async () => {
      selfAttention(qkv, headCount).dispose();
      await gpu().sync();
    };
    const step = () => selfAttentionStep(qkv, gradOutput, (x) => selfAttention(x, headCount));
    const times = new Map<string, number[]>();
    for (let repeat = -1; repeat < repeats; repeat++) {
      for (const variant of variants) {
        attentionKernels.variant = variant;
        for (const [what, run] of [["forward", forward], ["forward + backward", step]] as const) {
          const start = performance.now();
          await run();
          const key = `${variant} ${what}`;
          if (!times.has(key)) times.set(key, []);
          if (repeat >= 0) times.get(key)!.push(performance.now() - start); // -1 warms up
        }
      }
    }
    attentionKernels.variant = saved;
    const results = [...times].map(([key, values]) => `${key} ${median(values).toFixed(1)} ms`);
    console.log(
      `selfAttention ${label} B=${b} N=${n} D=${dim} H=${headCount} (median of ${repeats}, ` +
        `alternating): ${results.join(", ")}`,
    );
    qkv.dispose();
    gradOutput.dispose();
  }
}

if (Deno.args[0] === "--gflops") await runGflops(Number(Deno.args[1] ?? 3));
