/**
 * Linear probe on frozen features (after DINO's `eval_linear.py`): a linear classifier (weights
 * normal(0, 0.01), zero bias) trained with SGD, momentum 0.9, weight decay 0 and a cosine learning
 * rate down to 0, on features standardised with the train split's mean and standard deviation (a
 * BatchNorm without affine at its final statistics). Reports top-1 and top-5 on the test split.
 * @module
 */
import { mixSeed, permutation } from "../data/dataset.ts";
import { gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { Sgd } from "../optim/sgd.ts";
import { cosineValueAt } from "../optim/schedule.ts";
import { backward, zeroGrad } from "../tensor/backward.ts";
import { linear } from "../ops/matmul/forward.ts";
import { meanAll } from "../ops/reduction/forward.ts";
import { crossEntropyWithLabels } from "../ops/softmax/forward.ts";
import { clearTape, noGrad } from "../tensor/tape.ts";
import { readAll, type Tensor, tensor } from "../tensor/tensor.ts";
import { Random } from "../tensor/random.ts";

/** Host features of one split: [n, dim] row-major with one label per row. */
export interface ProbeSplit {
  /** Features, `n * dim` values. */
  features: Float32Array;
  /** One class index per row. */
  labels: ArrayLike<number>;
}

/** Options of `linearProbe`. */
export interface LinearProbeOptions {
  /** Feature dimension. */
  dim: number;
  /** Number of classes (default: 1 + the largest label). */
  classes?: number;
  /** Passes over the train split (default 20). */
  epochs?: number;
  /** Rows per step (default 256). */
  batchSize?: number;
  /** Peak learning rate of the cosine schedule (default 0.1). */
  lr?: number;
  /** SGD momentum (default 0.9). */
  momentum?: number;
  /** Weight decay (default 0). */
  weightDecay?: number;
  /** Standardise features with the train split's mean and std (default true). */
  standardize?: boolean;
  /** Seed of the initialisation and the shuffling (default 0). */
  seed?: number;
  /** Called after each epoch with its mean loss (one readback per epoch). */
  onEpoch?: (epoch: number, loss: number) => void;
}

/** What `linearProbe` returns. */
export interface LinearProbeResult {
  /** Top-1 accuracy on the test split in [0, 1]. */
  top1: number;
  /** Top-5 accuracy (top-min(5, classes)) on the test split in [0, 1]. */
  top5: number;
  /** Mean train loss of the last epoch. */
  finalLoss: number;
  /** Mean train loss of each epoch. */
  losses: number[];
}

function rowsOf(split: ProbeSplit, dim: number, what: string): number {
  if (split.features.length % dim !== 0 || split.features.length / dim !== split.labels.length) {
    throw new ShapeError(
      `linearProbe: ${what} features hold ${split.features.length} values for ` +
        `${split.labels.length} labels of dim ${dim} (want ${split.labels.length * dim})`,
    );
  }
  return split.labels.length;
}

/**
 * The number of classes of `splits`: `classes` where given, else 1 + the largest label; refuses a
 * label that is not a class index or lies outside the classes.
 */
function classCount(splits: readonly ProbeSplit[], classes?: number): number {
  let largest = 0;
  for (const { labels } of splits) {
    for (let i = 0; i < labels.length; i++) {
      if (!Number.isInteger(labels[i]) || labels[i] < 0) {
        throw new ShapeError(`linearProbe: label ${labels[i]} at row ${i} is not a class index`);
      }
      largest = Math.max(largest, labels[i]);
    }
  }
  const count = classes ?? largest + 1;
  if (largest >= count) {
    throw new ShapeError(`linearProbe: label ${largest} outside [0, ${count})`);
  }
  return count;
}

/** Copies rows `rows` of `source` ([n, dim] row-major) one after another into `target`. */
function copyRows(
  source: Float32Array,
  dim: number,
  rows: ArrayLike<number>,
  target: Float32Array,
): void {
  for (let i = 0; i < rows.length; i++) {
    target.set(source.subarray(rows[i] * dim, (rows[i] + 1) * dim), i * dim);
  }
}

/** Standardises columns with the train statistics (float64), returning new arrays. */
export function standardizeFeatures(
  train: Float32Array,
  others: readonly Float32Array[],
  dim: number,
  eps = 1e-5,
): { train: Float32Array; others: Float32Array[]; mean: Float64Array; std: Float64Array } {
  const rows = train.length / dim;
  const mean = new Float64Array(dim);
  const variance = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < dim; d++) mean[d] += train[r * dim + d];
  }
  for (let d = 0; d < dim; d++) mean[d] /= Math.max(rows, 1);
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < dim; d++) variance[d] += (train[r * dim + d] - mean[d]) ** 2;
  }
  const std = variance.map((v) => Math.sqrt(v / Math.max(rows, 1) + eps));
  const apply = (data: Float32Array) => {
    const out = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = (data[i] - mean[i % dim]) / std[i % dim];
    return out;
  };
  return { train: apply(train), others: others.map(apply), mean, std };
}

/** Trains a linear classifier on `train` features and evaluates it on `test`. */
export async function linearProbe(
  train: ProbeSplit,
  test: ProbeSplit,
  options: LinearProbeOptions,
): Promise<LinearProbeResult> {
  const {
    dim,
    epochs = 20,
    batchSize = 256,
    lr = 0.1,
    momentum = 0.9,
    weightDecay = 0,
    standardize = true,
    seed = 0,
  } = options;
  if (!Number.isInteger(dim) || dim < 1) {
    throw new ShapeError(`linearProbe: dim must be a whole number >= 1, got ${dim}`);
  }
  const trainRows = rowsOf(train, dim, "train");
  const testRows = rowsOf(test, dim, "test");
  if (trainRows === 0) throw new ShapeError("linearProbe: the train split is empty");
  if (!Number.isInteger(batchSize) || batchSize < 1 || !Number.isInteger(epochs) || epochs < 1) {
    throw new ShapeError(
      `linearProbe: batchSize and epochs must be whole numbers >= 1, got ${batchSize} and ${epochs}`,
    );
  }
  const classes = classCount([train, test], options.classes);
  let trainFeatures = train.features;
  let testFeatures = test.features;
  if (standardize) {
    const standardized = standardizeFeatures(train.features, [test.features], dim);
    trainFeatures = standardized.train;
    testFeatures = standardized.others[0];
  }
  const random = new Random(seed);
  const weight = tensor(
    Float32Array.from({ length: classes * dim }, () => 0.01 * random.normal()),
    [classes, dim],
  );
  const bias = tensor(new Float32Array(classes), [classes]);
  weight.requiresGrad = bias.requiresGrad = true;
  const optimizer = new Sgd([weight, bias], { lr, momentum, weightDecay });
  // batches are gathered on the host and uploaded: the train features may exceed what one GPU
  // buffer binds (60000 raw Fashion-MNIST images are 188 MB, lavapipe binds 128 MiB)
  const batchValues = new Float32Array(Math.min(batchSize, trainRows) * dim);
  const trainLabels = Int32Array.from(train.labels);
  const stepsPerEpoch = Math.ceil(trainRows / batchSize);
  const totalSteps = epochs * stepsPerEpoch;
  const losses: number[] = [];
  try {
    let step = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = permutation(trainRows, mixSeed(seed, epoch));
      const epochLosses: Tensor[] = [];
      for (let start = 0; start < trainRows; start += batchSize) {
        const picked = order.subarray(start, Math.min(trainRows, start + batchSize));
        copyRows(trainFeatures, dim, picked, batchValues);
        const labels = tensor(picked.map((i) => trainLabels[i]), [picked.length], "i32");
        const rows = tensor(batchValues.subarray(0, picked.length * dim), [picked.length, dim]);
        const logits = linear(rows, weight, bias);
        const perRow = crossEntropyWithLabels(logits, labels);
        const loss = meanAll(perRow);
        backward(loss);
        optimizer.lr = cosineValueAt({ base: lr, final: 0, totalSteps }, step++);
        optimizer.step();
        zeroGrad([weight, bias]);
        for (const t of [labels, rows, logits, perRow]) t.dispose();
        epochLosses.push(loss);
      }
      const values = await readAll(epochLosses);
      const mean = values.reduce((sum, value) => sum + value[0], 0) / values.length;
      for (const t of epochLosses) t.dispose();
      losses.push(mean);
      options.onEpoch?.(epoch, mean);
    }
    const logitTensors: Tensor[] = [];
    const evalBatch = Math.max(
      1,
      Math.floor(gpu().limits.maxStorageBufferBindingSize / (4 * Math.max(dim, classes))),
    );
    noGrad(() => {
      for (let start = 0; start < testRows; start += Math.min(evalBatch, 8192)) {
        const end = Math.min(testRows, start + Math.min(evalBatch, 8192));
        const rows = tensor(testFeatures.subarray(start * dim, end * dim), [end - start, dim]);
        logitTensors.push(linear(rows, weight, bias));
        rows.dispose();
      }
    });
    const logits = await readAll(logitTensors);
    for (const t of logitTensors) t.dispose();
    const topCount = Math.min(5, classes);
    let top1 = 0;
    let top5 = 0;
    let row = 0;
    for (const block of logits) {
      for (let at = 0; at < block.length; at += classes, row++) {
        const scores = block.subarray(at, at + classes);
        const label = test.labels[row];
        let better = 0;
        for (let c = 0; c < classes; c++) {
          if (scores[c] > scores[label] || (scores[c] === scores[label] && c < label)) better++;
        }
        if (better === 0) top1++;
        if (better < topCount) top5++;
      }
    }
    return {
      top1: testRows > 0 ? top1 / testRows : 0,
      top5: testRows > 0 ? top5 / testRows : 0,
      finalLoss: losses[losses.length - 1],
      losses,
    };
  } finally {
    clearTape();
    zeroGrad([weight, bias]);
    for (const t of [weight, bias]) t.dispose();
    optimizer.dispose();
  }
}

/** Options of `sweepLinearProbe`: those of `linearProbe` with several learning rates. */
export interface LinearProbeSweepOptions extends Omit<LinearProbeOptions, "lr" | "onEpoch"> {
  /** Peak learning rates to try, each on the train split less the validation rows. */
  lrs: readonly number[];
  /** Share of the train split held out to choose the learning rate (default 0.1). */
  validationFraction?: number;
  /** Called after each probe with its learning rate and validation top-1 (the final one: test). */
  onProbe?: (lr: number, top1: number, what: "validation" | "test") => void;
}

/** What `sweepLinearProbe` returns: the final probe's result and what chose its learning rate. */
export interface LinearProbeSweepResult extends LinearProbeResult {
  /** The learning rate with the best validation top-1 (the first of equals). */
  lr: number;
  /** Validation top-1 of each learning rate, in the order given. */
  validation: { lr: number; top1: number }[];
}

/**
 * Chooses the probe's learning rate without looking at the test split (as DINOv2's linear
 * evaluation grids its learning rates): a seeded `validationFraction` of the train rows is held
 * out, one probe per learning rate trains on the rest and is scored on them, then the best rate
 * trains a probe on the whole train split, which is evaluated on `test`.
 */
export async function sweepLinearProbe(
  train: ProbeSplit,
  test: ProbeSplit,
  options: LinearProbeSweepOptions,
): Promise<LinearProbeSweepResult> {
  const { lrs, validationFraction = 0.1, onProbe, ...common } = options;
  if (lrs.length === 0 || lrs.some((lr) => !(lr > 0) || !Number.isFinite(lr))) {
    throw new ShapeError(`sweepLinearProbe: learning rates must be numbers > 0, got [${lrs}]`);
  }
  const rows = rowsOf(train, common.dim, "train");
  const held = Math.round(rows * validationFraction);
  if (!(validationFraction > 0 && validationFraction < 1) || held < 1 || held >= rows) {
    throw new ShapeError(
      `sweepLinearProbe: validationFraction ${validationFraction} of ${rows} train rows must ` +
        `hold out at least one row and keep at least one`,
    );
  }
  // the validation probes see only train labels: they get the class count of both splits
  const classes = classCount([train, test], common.classes);
  const order = permutation(rows, mixSeed(common.seed ?? 0, 0x76616c));
  const pick = (indices: Int32Array): ProbeSplit => {
    const features = new Float32Array(indices.length * common.dim);
    copyRows(train.features, common.dim, indices, features);
    return { features, labels: Int32Array.from(indices, (row) => train.labels[row]) };
  };
  const validationSplit = pick(order.subarray(0, held));
  const fitSplit = pick(order.subarray(held));
  const validation: { lr: number; top1: number }[] = [];
  for (const lr of lrs) {
    const result = await linearProbe(fitSplit, validationSplit, { ...common, classes, lr });
    validation.push({ lr, top1: result.top1 });
    onProbe?.(lr, result.top1, "validation");
  }
  const best = validation.reduce((a, b) => (b.top1 > a.top1 ? b : a));
  const result = await linearProbe(train, test, { ...common, classes, lr: best.lr });
  onProbe?.(best.lr, result.top1, "test");
  return { ...result, lr: best.lr, validation };
}
