// The iBOT patch loss against a float64 reference (DINOv2's forward_masked), and DINO steps with
// iBOT, KoLeo and Sinkhorn-Knopp switched on.
import { tensor } from "../../src/tensor/tensor.ts";
import type { DinoTrainConfig } from "../../src/train/config.ts";
import { ConfigError } from "../../src/train/validate.ts";
import { DinoTrainer } from "../../src/train/dino_trainer.ts";
import { IbotPatchLoss } from "../../src/train/ibot.ts";
import { assertThrows, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { checkOp } from "../helpers/op_check.ts";
import { syntheticBatches, tinyDinoConfig } from "../helpers/tiny_dino.ts";

function ibotReference(
  s: Float64Array,
  t: Float64Array,
  w: Float64Array,
  M: number,
  K: number,
  crops: number,
  studentTemp: number,
  teacherTemp: number,
): Float64Array {
  let total = 0;
  for (let m = 0; m < M; m++) {
    let tMax = -Infinity;
    let sMax = -Infinity;
    for (let k = 0; k < K; k++) {
      tMax = Math.max(tMax, t[m * K + k] / teacherTemp);
      sMax = Math.max(sMax, s[m * K + k] / studentTemp);
    }
    let tSum = 0;
    let sSum = 0;
    for (let k = 0; k < K; k++) {
      tSum += Math.exp(t[m * K + k] / teacherTemp - tMax);
      sSum += Math.exp(s[m * K + k] / studentTemp - sMax);
    }
    let ce = 0;
    for (let k = 0; k < K; k++) {
      const p = Math.exp(t[m * K + k] / teacherTemp - tMax) / tSum;
      const logQ = s[m * K + k] / studentTemp - sMax - Math.log(sSum);
      ce -= p * logQ;
    }
    total += ce * w[m];
  }
  return Float64Array.of(total / crops);
}

for (const [M, K, crops] of [[1, 3, 2], [7, 33, 4], [45, 130, 16]] as const) {
  gpuTest(`ibot: patch loss of ${M} masked patches x ${K} prototypes over ${crops} crops`, () => {
    const loss = new IbotPatchLoss(K, 0.1, 0.9, "centering");
    const weights = Array.from({ length: M }, (_, i) => 1 / (1 + (i % 3)));
    return checkOp({
      name: `ibot [${M}, ${K}]`,
      inputs: [
        { shape: [M, K] },
        { shape: [M, K], grad: false },
        { shape: [M], values: weights, grad: false },
      ],
      gpu: (s, t, w) => loss.forward(s, t, w, crops, 0.04),
      reference: (s, t, w) => ibotReference(s, t, w, M, K, crops, 0.1, 0.04),
      outputShape: [],
      tolerance: { absolute: 1e-4, relative: 1e-4 },
    }).finally(() => loss.dispose());
  });
}

function tinyConfig(overrides: Partial<DinoTrainConfig> = {}): DinoTrainConfig {
  return tinyDinoConfig({
    patchSize: 4,
    depth: 1,
    batchSize: 8,
    epochs: 1,
    freezeLastLayer: 0,
    ...overrides,
  });
}

for (const centering of ["centering", "sinkhorn"] as const) {
  gpuTest(`ibot: DINO + iBOT + KoLeo steps train the mask token (${centering})`, async () => {
    const trainer = new DinoTrainer(
      tinyConfig({ ibotLossWeight: 1, koleoLossWeight: 0.1, centering, ibotOutDim: 24 }),
      4,
    );
    const maskToken = trainer.student.backbone.namedParameters().find(([n]) => n === "mask_token")!;
    const before = await maskToken[1].read();
    for (const batch of await syntheticBatches(3, 8)) {
      const result = trainer.trainStep(batch);
      const [loss, ibot, koleo] = await Promise.all(
        [result.loss, result.ibotLoss!, result.koleoLoss!].map((t) => t.item()),
      );
      assertTrue(
        Number.isFinite(loss) && ibot > 0 && Number.isFinite(koleo),
        `${loss} ${ibot} ${koleo}`,
      );
      assertTrue(loss > ibot, `total ${loss} includes the DINO loss besides iBOT ${ibot}`);
      for (const value of Object.values(result)) value.dispose();
    }
    const after = await maskToken[1].read();
    assertTrue(after.some((v, i) => v !== before[i]), "mask token never updated");
    assertTrue(trainer.student.ibotHead !== trainer.student.head, "iBOT head is separate");
    trainer.dispose();
  });
}

gpuTest("ibot: a Mixer with iBOT and unknown centering are refused", () => {
  assertThrows(
    () => tinyConfig({ arch: "mixer", ibotLossWeight: 1, localCrops: 0 }),
    ConfigError,
    "needs a ViT",
  );
  assertThrows(
    () => tinyConfig({ centering: "other" as "sinkhorn" }),
    ConfigError,
    '"centering" must be',
  );
  void tensor;
});
