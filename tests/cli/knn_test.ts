import { assertEquals, assertRejects, assertTrue as assert } from "../helpers/assert.ts";
import { runCommands } from "../helpers/cli.ts";
import { knnCommand } from "../../cli/commands/knn.ts";
import { probeCommand } from "../../cli/commands/probe.ts";
import { UserError } from "../../cli/run.ts";
import { loadDataSpec } from "../../src/data/spec.ts";
import { datasetToTensorBatches, extractFeatures, pixelFeatures } from "../../src/eval/features.ts";
import { linearProbe, sweepLinearProbe } from "../../src/eval/linear_probe.ts";
import { knnClassify } from "../../src/eval/knn.ts";
import { loadModelFile } from "../../src/io/pretrained/model_file.ts";
import { writeSafetensors } from "../../src/io/safetensors.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

function run(args: string[]): Promise<string> {
  return runCommands([knnCommand(), probeCommand()], args);
}

const CONFIG = { imageSize: 16, patchSize: 8, embedDim: 16, depth: 2, heads: 2, seed: 5 };

/** Writes a tiny ViT as a training checkpoint would hold it (teacher.backbone. prefix). */
async function writeWeights(path: string, prefix: string): Promise<VisionTransformer> {
  const vit = new VisionTransformer(CONFIG);
  const state = await vit.stateDict();
  const tensors = new Map([...state].map(([name, value]) => [prefix + name, value]));
  tensors.set("student.head.x", { dtype: "F32", shape: [1], data: new Float32Array(1) });
  await Deno.writeFile(
    path,
    writeSafetensors(tensors, { arch: "vit", config: JSON.stringify(vit.config) }),
  );
  return vit;
}

gpuTest("loadModelFile finds the backbone under its prefix and rejects other files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const vit = await writeWeights(`${dir}/w.safetensors`, "teacher.backbone.");
    const loaded = await loadModelFile(`${dir}/w.safetensors`);
    assertEquals([loaded.arch, loaded.prefix], ["vit", "teacher.backbone."]);
    const [a, b] = [await vit.stateDict(), await loaded.model.stateDict()];
    assertEquals([...b.get("blocks.1.attn.qkv.weight")!.data], [
      ...a.get("blocks.1.attn.qkv.weight")!.data,
    ]);
    vit.dispose();
    loaded.model.dispose();
    await Deno.writeFile(`${dir}/bare.safetensors`, writeSafetensors({}, { arch: "vit" }));
    await assertRejects(
      () => loadModelFile(`${dir}/bare.safetensors`),
      Error,
      "no model configuration",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("knn prints the accuracy of the model's features; probe trains a classifier", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const vit = await writeWeights(`${dir}/w.safetensors`, "backbone.");
    const common = ["--weights", `${dir}/w.safetensors`, "--data", "synthetic:60", "--quiet"];
    const text = await run(["knn", ...common, "--k", "5"]);
    const match = /^knn_top1=(\d+\.\d\d) knn_top5=(\d+\.\d\d)$/.exec(text);
    assert(match, text);
    // the same protocol by hand
    const data = await loadDataSpec("synthetic:60");
    const features = async (split: typeof data.train) =>
      await extractFeatures(vit, datasetToTensorBatches(split, { size: 16 }));
    const train = await features(data.train);
    const test = await features(data.test);
    const expected = await knnClassify(
      { features: train.features, dim: train.dim, labels: train.labels },
      { features: test.features, dim: test.dim, labels: test.labels },
      { k: 5, classes: 10 },
    );
    assertEquals(Number(match[1]), Number((100 * expected.top1).toFixed(2)));
    assertEquals(Number(match[2]), Number((100 * expected.top5).toFixed(2)));
    vit.dispose();

    // several kinds from one extraction give what each gives alone
    const several = await run(["knn", ...common, "--k", "5", "--features", "cls,mean,cls+mean"]);
    const kinds = ["cls", "mean", "cls+mean"];
    const singles = [];
    for (const kind of kinds) {
      singles.push(await run(["knn", ...common, "--k", "5", "--features", kind]));
    }
    assertEquals(several.split("\n"), singles.map((line, i) => `${line} features=${kinds[i]}`));
    assertEquals(singles[0], text);
    await assertRejects(
      () => run(["knn", ...common, "--features", "cls,pixels"]),
      UserError,
      'or several of the first three separated by commas, got "cls,pixels"',
    );

    const json = JSON.parse(await run(["knn", ...common, "--k", "5", "--json"]));
    assertEquals([json.train, json.test, json.dim, json.k], [50, 10, 16, 5]);
    assertEquals(json.knn_top1, Number(match[1]));

    const probe = JSON.parse(
      await run(["probe", ...common, "--epochs", "3", "--last-blocks", "2", "--avgpool", "--json"]),
    );
    assertEquals([probe.dim, probe.last_blocks, probe.avgpool, probe.epochs], [48, 2, true, 3]);
    assert(
      probe.probe_top1 >= 0 && probe.probe_top1 <= probe.probe_top5 && probe.probe_top5 <= 100,
    );
    assert(Number.isFinite(probe.final_loss));
    const line = await run(["probe", ...common, "--epochs", "1", "--last-blocks", "1"]);
    assert(/^probe_top1=\d+\.\d\d probe_top5=\d+\.\d\d$/.test(line), line);

    await assertRejects(
      () => run(["probe", ...common, "--last-blocks", "3"]),
      UserError,
      "exceeds",
    );
    await assertRejects(() => run(["knn", ...common, "--k", "0"]), UserError, "--k");
    await assertRejects(
      () => run(["knn", "--weights", `${dir}/missing.safetensors`, "--data", "synthetic:60"]),
      UserError,
      "cannot read",
    );
    await assertRejects(
      () => run(["knn", "--weights", `${dir}/missing.safetensors`, "--data", "synthetic:20"]),
      UserError,
      "synthetic:20 has no test split (too few images",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** DINO's weighted k-NN in float64 on the host: cosine similarity, votes exp(similarity / t). */
function knnReference(
  bank: Float64Array[],
  bankLabels: Int32Array,
  queries: Float64Array[],
  queryLabels: Int32Array,
  k: number,
  temperature = 0.07,
): number {
  const unit = (v: Float64Array) => {
    const norm = Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));
    return v.map((x) => x / norm);
  };
  const units = bank.map(unit);
  let correct = 0;
  queries.forEach((query, q) => {
    const u = unit(query);
    const nearest = units
      .map((row, i) => ({ similarity: row.reduce((sum, x, j) => sum + x * u[j], 0), i }))
      .sort((a, b) => b.similarity - a.similarity)
      .slice(0, k);
    const votes = new Float64Array(10);
    for (const { similarity, i } of nearest) {
      votes[bankLabels[i]] += Math.exp(similarity / temperature);
    }
    if (votes.indexOf(Math.max(...votes)) === queryLabels[q]) correct++;
  });
  return 100 * correct / queries.length;
}

gpuTest("knn --features pixels is the raw-pixel baseline and needs no weights", async () => {
  const json = JSON.parse(
    await run(["knn", "--features", "pixels", "--data", "synthetic:300", "--k", "5", "--json"]),
  );
  const data = await loadDataSpec("synthetic:300");
  const pixels = async (split: typeof data.train) => {
    const rows: Float64Array[] = [];
    const labels = new Int32Array(split.length);
    for (let i = 0; i < split.length; i++) {
      const sample = await split.get(i);
      // CHW order, values in [0, 1]
      const { height, width, channels } = sample;
      const row = new Float64Array(channels * height * width);
      for (let c = 0; c < channels; c++) {
        for (let p = 0; p < height * width; p++) {
          row[c * height * width + p] = sample.image[p * channels + c] / 255;
        }
      }
      rows.push(row);
      labels[i] = sample.label;
    }
    return { rows, labels };
  };
  const train = await pixels(data.train);
  const test = await pixels(data.test);
  assertEquals([json.features, json.arch, json.train, json.test], ["pixels", "pixels", 240, 60]);
  assertEquals(json.dim, train.rows[0].length);
  assertEquals(
    json.knn_top1,
    Number(knnReference(train.rows, train.labels, test.rows, test.labels, 5).toFixed(2)),
  );
  await assertRejects(
    () => run(["knn", "--data", "synthetic:60"]),
    UserError,
    "--weights is required",
  );
  await assertRejects(
    () => run(["knn", "--features", "pixels", "--weights", "w.safetensors"]),
    UserError,
    "takes no --weights",
  );
});

gpuTest("probe --pixels trains the probe on raw pixels and needs no weights", async () => {
  const json = JSON.parse(
    await run(["probe", "--pixels", "--data", "synthetic:300", "--epochs", "2", "--json"]),
  );
  const data = await loadDataSpec("synthetic:300");
  const [train, test] = [await pixelFeatures(data.train), await pixelFeatures(data.test)];
  const expected = await linearProbe(
    { features: train.features, labels: train.labels },
    { features: test.features, labels: test.labels },
    { dim: train.dim, classes: data.classes, epochs: 2, lr: 0.1, batchSize: 256, seed: 0 },
  );
  assertEquals([json.features, json.arch, json.dim], ["pixels", "pixels", train.dim]);
  assertEquals(json.probe_top1, Number((100 * expected.top1).toFixed(2)));
  assertEquals(json.final_loss, expected.finalLoss);
  await assertRejects(() => run(["probe", "--data", "synthetic:60"]), UserError, "--weights");
  await assertRejects(
    () => run(["probe", "--pixels", "--weights", "w.safetensors"]),
    UserError,
    "takes no --weights",
  );
});

gpuTest("probe --lr with several rates chooses one on held-out train rows", async () => {
  const flags = ["--pixels", "--data", "synthetic:300", "--epochs", "2", "--lr", "0.001,0.1"];
  const json = JSON.parse(await run(["probe", ...flags, "--validation-fraction", "0.2", "--json"]));
  const data = await loadDataSpec("synthetic:300");
  const [train, test] = [await pixelFeatures(data.train), await pixelFeatures(data.test)];
  const expected = await sweepLinearProbe(
    { features: train.features, labels: train.labels },
    { features: test.features, labels: test.labels },
    {
      dim: train.dim,
      classes: data.classes,
      epochs: 2,
      lrs: [0.001, 0.1],
      validationFraction: 0.2,
      batchSize: 256,
      seed: 0,
    },
  );
  assertEquals(json.lr, expected.lr);
  assertEquals(
    json.validation,
    expected.validation.map((v) => ({ lr: v.lr, top1: Number((100 * v.top1).toFixed(2)) })),
  );
  assertEquals(json.validation_fraction, 0.2);
  assertEquals(json.probe_top1, Number((100 * expected.top1).toFixed(2)));
  const line = await run(["probe", ...flags, "--quiet"]);
  assert(/^probe_top1=\d+\.\d\d probe_top5=\d+\.\d\d lr=0\.(001|1)$/.test(line), line);
  await assertRejects(
    () => run(["probe", ...flags, "--validation-fraction", "1"]),
    UserError,
    "--validation-fraction must be a number in (0, 1), got 1",
  );
  await assertRejects(
    () => run(["probe", "--pixels", "--data", "synthetic:60", "--lr", "0.1,x"]),
    UserError,
    "--lr must be a number > 0, got x",
  );
});
