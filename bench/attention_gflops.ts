/**
 * GFLOP/s of each fused attention kernel variant at ViT shapes, next to the matmul at 1024^3, in
 * one process: `deno run -A bench/attention_gflops.ts [repeats]` (also
 * `deno run -A bench/attention_bench.ts --gflops [repeats]`). Variants are alternated within each
 * repeat (so other load on the machine hits them alike) and the median time of each is printed.
 * FLOPs counted: forward 4 B H N^2 d (scores and mix), forward + backward 14 B H N^2 d (the
 * backward's dS, dP, dQ, dK, dV: 2.5x the forward, FlashAttention's convention; the recomputed
 * scores are not counted). ATTENTION_GFLOPS_SHAPES=197,50 keeps the shapes of those token counts;
 * ATTENTION_GFLOPS_VARIANTS=blocked,subgroup keeps those variants.
 * @module
 */
import { gpu, initGpu } from "../src/gpu/device.ts";
import { backward } from "../src/tensor/backward.ts";
import { attention } from "../src/ops/attention/forward.ts";
import {
  attentionKernels,
  type AttentionKernelVariant,
  attentionVariant,
} from "../src/ops/attention/choice.ts";
import { matmul } from "../src/ops/matmul/forward.ts";
import { type Tensor, tensor } from "../src/tensor/tensor.ts";
import { randomValues } from "./random_values.ts";

/** One attention shape: label, batch, heads, tokens, head size. */
type AttentionShape = [label: string, batch: number, heads: number, tokens: number, d: number];

/** The shapes measured: ViT-S/16, /14 and /8 at 224, ViT-S/16 at 512, a 96-px local crop, a 28-px Fashion-MNIST ViT. */
export const GFLOPS_SHAPES: readonly AttentionShape[] = [
  ["ViT-S/16 224", 16, 6, 197, 64],
  ["ViT-S/14 224", 8, 6, 257, 64],
  ["ViT-S/8 224", 2, 6, 785, 64],
  ["ViT-S/16 512", 1, 6, 1025, 64],
  ["ViT-S/16 96 crop", 16, 6, 37, 64],
  ["ViT-S/16 112", 16, 6, 50, 64],
  ["Fashion-MNIST ViT", 256, 4, 17, 16],
  ["DINO ViT dim 96", 32, 3, 65, 32],
];

const VARIANTS: readonly AttentionKernelVariant[] = [
  "blocked",
  "rows",
  "shared_rows",
  "tiled",
  "subgroup",
];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** Milliseconds of one matmul at 1024^3 (median of `repeats`). */
async function matmulMilliseconds(repeats: number): Promise<number> {
  const a = tensor(randomValues(1024 * 1024, 1), [1024, 1024]);
  const b = tensor(randomValues(1024 * 1024, 2), [1024, 1024]);
  const times: number[] = [];
  for (let repeat = -1; repeat < repeats; repeat++) {
    const start = performance.now();
    matmul(a, b).dispose();
    await gpu().sync();
    if (repeat >= 0) times.push(performance.now() - start);
  }
  a.dispose();
  b.dispose();
  return median(times);
}

/** Forward, and forward + backward, of `attention` on q, k, v with output gradient `grad`. */
async function attentionStep(inputs: Tensor[], grad: Tensor, withBackward: boolean) {
  for (const input of inputs) input.requiresGrad = withBackward;
  const output = attention(inputs[0], inputs[1], inputs[2]);
  if (withBackward) {
    backward(output, grad);
    for (const input of inputs) {
      input.grad?.dispose();
      input.grad = undefined;
      input.requiresGrad = false;
    }
  }
  output.dispose();
  await gpu().sync();
}

/** Measures every variant at every shape; prints one line per shape and variant. */
export async function runGflops(repeats = 3): Promise<void> {
  await initGpu();
  const uptime = await Deno.readTextFile("/proc/loadavg").catch(() => "?");
  console.log(`attention GFLOP/s (median of ${repeats}), load average ${uptime.trim()}`);
  const matmulMs = await matmulMilliseconds(repeats);
  const matmulRate = 2 * 1024 ** 3 / matmulMs / 1e6;
  console.log(`matmul 1024^3: ${matmulMs.toFixed(1)} ms, ${matmulRate.toFixed(1)} GFLOP/s`);
  const wanted = Deno.env.get("ATTENTION_GFLOPS_SHAPES")?.split(",").map(Number);
  const saved = attentionKernels.variant;
  for (const [label, batch, heads, tokens, d] of GFLOPS_SHAPES) {
    if (wanted && !wanted.includes(tokens)) continue;
    const shape = [batch, heads, tokens, d];
    const size = batch * heads * tokens * d;
    const inputs = [1, 2, 3].map((seed) => tensor(randomValues(size, seed), shape));
    const grad = tensor(randomValues(size, 4), shape);
    // variants that do not run here fall back to another: measure each kernel once
    const named = Deno.env.get("ATTENTION_GFLOPS_VARIANTS")?.split(",");
    const variants = VARIANTS.filter((variant) => {
      if (named && !named.includes(variant)) return false;
      attentionKernels.variant = variant;
      return attentionVariant(tokens, d) === variant;
    });
    const times = new Map<string, number[]>();
    for (let repeat = -1; repeat < repeats; repeat++) {
      for (const variant of variants) {
        attentionKernels.variant = variant;
        for (const withBackward of [false, true]) {
          const start = performance.now();
          await attentionStep(inputs, grad, withBackward);
          const key = `${variant} ${withBackward}`;
          if (!times.has(key)) times.set(key, []);
          if (repeat >= 0) times.get(key)!.push(performance.now() - start); // -1 warms up
        }
      }
    }
    attentionKernels.variant = "auto";
    const auto = attentionVariant(tokens, d);
    const flops = batch * heads * tokens * tokens * d;
    for (const variant of variants) {
      const forward = median(times.get(`${variant} false`)!);
      const step = median(times.get(`${variant} true`)!);
      const forwardRate = 4 * flops / forward / 1e6;
      const stepRate = 14 * flops / step / 1e6;
      console.log(
        `${label} B=${batch} H=${heads} N=${tokens} d=${d} ${variant.padEnd(8)} ` +
          `forward ${forward.toFixed(1)} ms ${forwardRate.toFixed(1)} GFLOP/s ` +
          `(${(forwardRate / matmulRate).toFixed(2)}x matmul), forward + backward ` +
          `${step.toFixed(1)} ms ${stepRate.toFixed(1)} GFLOP/s` +
          (variant === auto ? "  <- auto" : ""),
      );
    }
    for (const t of [...inputs, grad]) t.dispose();
  }
  attentionKernels.variant = saved;
}

if (import.meta.main) await runGflops(Number(Deno.args[0] ?? 3));
