/**
 * Fused attention at ViT sizes: forward, and forward + backward, at ViT-S/16 (N = 197) and
 * ViT-S/8 (N = 785) with H = 6, D = 64. Each iteration waits for the GPU (`gpu().sync()`).
 * Batch 2 keeps software rendering (llvmpipe) tolerable; set ATTENTION_BENCH_BATCH to change it.
 * @module
 */
import { gpu, initGpu } from "../src/gpu/device.ts";
import { backward } from "../src/tensor/backward.ts";
import { attention, attentionReference } from "../src/tensor/ops/attention.ts";
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
