/**
 * The onnxruntime-node peer of `dinogpu bench model`: inference images/s of a ViT exported from
 * PyTorch (bench/peers/export_vit_onnx.py) on onnxruntime's CPU provider, the engine that
 * transformers.js runs on in Node. onnxruntime-node is not a dependency of dinogpu: install it
 * into a folder of its own with `npm install --ignore-scripts --prefix DIR onnxruntime-node` (its
 * install script fetches GPU libraries from a host this machine cannot reach; the CPU library
 * ships in the package) and pass that folder. Random images: speed only. Not used by the tests.
 *
 *   deno run --allow-read --allow-env --allow-ffi --allow-sys bench/peers/onnx_vit.ts \
 *     MODEL.onnx ORT_DIR [--threads 2] [--seconds 3]
 *
 * Prints one JSON line: {"peer": "onnxruntime-node", "what": "inference", ...,
 * "images_per_second": x}.
 * @module
 */
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

interface OrtTensor {
  dims: readonly number[];
}
interface OrtSession {
  inputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}
interface Ort {
  env: { versions: { common: string } };
  Tensor: new (type: "float32", data: Float32Array, dims: number[]) => OrtTensor;
  InferenceSession: {
    create(
      path: string,
      options: {
        intraOpNumThreads: number;
        interOpNumThreads: number;
        executionProviders: string[];
      },
    ): Promise<OrtSession>;
  };
}

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    threads: { type: "string", default: "2" },
    seconds: { type: "string", default: "3" },
    batch: { type: "string", default: "16" },
    size: { type: "string", default: "224" },
  },
});
if (positionals.length !== 2) {
  console.error(
    "usage: onnx_vit.ts MODEL.onnx ORT_DIR [--threads N] [--seconds S] [--batch B] [--size S]",
  );
  Deno.exit(2);
}
const [modelPath, ortDirectory] = positionals;
const [threads, seconds, batch, size] = [values.threads, values.seconds, values.batch, values.size]
  .map(Number);
const require = createRequire(resolve(ortDirectory, "node_modules", "package.json"));
const ort = require("onnxruntime-node") as Ort;
const session = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionProviders: ["cpu"],
});
const data = new Float32Array(batch * 3 * size * size);
for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.001);
const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", data, [batch, 3, size, size]) };
const run = () => session.run(feeds);
// Two warm-ups, then as many runs as fit `seconds` (at least 3), as the PyTorch peer times.
for (let i = 0; i < 2; i++) await run();
let count = 0;
const start = performance.now();
while (count < 3 || performance.now() - start < seconds * 1000) {
  await run();
  count++;
}
const elapsed = (performance.now() - start) / 1000;
console.log(JSON.stringify({
  peer: "onnxruntime-node",
  version: ort.env.versions.common,
  device: "cpu",
  threads,
  batch,
  size,
  precision: "f32",
  what: "inference",
  images_per_second: Math.round(count * batch / elapsed * 100) / 100,
}));
