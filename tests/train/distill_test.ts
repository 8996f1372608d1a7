// Distillation: a frozen teacher from a dinogpu run (its head) or from bare backbone weights (a
// fixed random head) into a smaller ViT and into an MLP-Mixer; the teacher never changes; heads
// and grids that cannot be matched give errors that say why; a teacher's own iBOT head (DINOv2's
// teacher checkpoint layout) gives the iBOT targets when it has one, its DINO head when it has no
// separate one; a head-less teacher is refused unless a random head is asked for; the student's
// EMA follows the student and is what evaluation reads.
import { join } from "node:path";
import { syntheticDataset } from "../../src/data/synthetic.ts";
import { writeSafetensors } from "../../src/io/safetensors.ts";
import type { HostTensor } from "../../src/tensor/host.ts";
import { DinoHead } from "../../src/nn/dino_head.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import type { DinoTrainConfig } from "../../src/train/config.ts";
import { ConfigError } from "../../src/train/validate.ts";
import { loadDistillTeacher } from "../../src/train/distill.ts";
import type { DinoNetwork } from "../../src/train/models.ts";
import { runDinoTraining } from "../../src/train/run.ts";
import { startingWeightShare } from "../../src/train/schedules.ts";
import { loadModel } from "../../src/io/pretrained/load.ts";
import { assertEquals, assertRejects, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { TINY_VIT, tinyPatch4Config } from "../helpers/tiny_dino.ts";

const data = syntheticDataset({ count: 48, size: 16, seed: 5 });

async function withTeacherRun(body: (dir: string, teacherRun: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    const teacherRun = join(dir, "teacher");
    await runDinoTraining({ config: tinyPatch4Config(teacherRun, { maxSteps: 2 }), train: data });
    await body(dir, teacherRun);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

gpuTest(
  "distill: a dinogpu run's teacher into a smaller ViT and into a Mixer, frozen",
  () =>
    withTeacherRun(async (dir, teacherRun) => {
      for (const arch of ["vit", "mixer"] as const) {
        const student = tinyPatch4Config(join(dir, arch), {
          arch,
          embedDim: 8,
          heads: 2,
          maxSteps: 3,
          ...(arch === "mixer" ? { localCrops: 0 } : {}),
        });
        const teacher = await loadDistillTeacher(teacherRun, student);
        assertEquals(teacher.head, "checkpoint");
        assertTrue(
          teacher.description.includes("its DINO head (32 prototypes)"),
          teacher.description,
        );
        const named = teacher.network.namedParameters();
        const before = await Promise.all(named.map(([, value]) => value.read()));
        const messages: string[] = [];
        const result = await runDinoTraining({
          config: student,
          train: data,
          teacher: teacher.network,
          onMessage: (message) => messages.push(message),
        });
        assertEquals(result.steps, 3);
        // three steps at momentum ~0.996 leave the EMA almost where it started: said once
        const notes = messages.filter((m) => m.startsWith("note: after 3 steps"));
        assertEquals(notes.length, 1, messages.join("\n"));
        assertTrue(notes[0].includes("still holds 99% of the student's initial weights"), notes[0]);
        for (const loss of result.losses.values()) {
          assertTrue(Number.isFinite(loss), `loss ${loss}`);
        }
        // runDinoTraining disposed the teacher with the trainer; its values were never written:
        // check through a fresh load of the same run instead
        const again = await loadDistillTeacher(teacherRun, student);
        const after = await Promise.all(
          again.network.namedParameters().map(([, v]) => v.read()),
        );
        named.forEach(([name], index) =>
          assertEquals(Array.from(after[index]), Array.from(before[index]), `teacher ${name} moved`)
        );
        again.network.dispose();
        // what evaluation loads from the distillation run is its student, not the frozen teacher
        const evaluated = await loadModel(join(dir, arch));
        assertEquals(evaluated.kind, arch);
        assertEquals(evaluated.model.config.embedDim, 8);
        evaluated.model.dispose();
      }
    }),
);

gpuTest(
  "distill: the frozen teacher's weights stay put during steps",
  () =>
    withTeacherRun(async (dir, teacherRun) => {
      const student = tinyPatch4Config(join(dir, "s"), { embedDim: 8, maxSteps: 2 });
      const teacher = await loadDistillTeacher(teacherRun, student);
      const { DinoTrainer } = await import("../../src/train/dino_trainer.ts");
      const { DataLoader } = await import("../../src/data/loader.ts");
      const trainer = new DinoTrainer(student, 6, { teacher: teacher.network });
      const weight = teacher.network.namedParameters().find(([n]) => n.endsWith("qkv.weight"))![1];
      const before = await weight.read();
      const loader = new DataLoader(data, { batchSize: 8 });
      let steps = 0;
      for await (const batch of loader.epoch(0)) {
        if (steps++ === 2) break;
        for (const value of Object.values(trainer.trainStep(batch))) value.dispose();
      }
      assertEquals(Array.from(await weight.read()), Array.from(before));
      // evaluation reads the student's EMA (DINOv3's model_ema), not the frozen teacher
      assertTrue(trainer.evaluationBackbone === trainer.studentEma!.backbone);
      trainer.dispose();
    }),
);

gpuTest(
  "distill: the student's EMA follows the student on the teacher momentum; off, the student is evaluated",
  () =>
    withTeacherRun(async (dir, teacherRun) => {
      const { DinoTrainer } = await import("../../src/train/dino_trainer.ts");
      const { DataLoader } = await import("../../src/data/loader.ts");
      const student = tinyPatch4Config(join(dir, "s"), { embedDim: 8, momentumTeacher: 0.9 });
      const teacher = await loadDistillTeacher(teacherRun, student);
      const trainer = new DinoTrainer(student, 6, { teacher: teacher.network });
      const find = (
        network: DinoNetwork,
      ) => network.namedParameters().find(([n]) => n.endsWith("qkv.weight"))![1];
      const start = await find(trainer.student).read() as Float32Array;
      assertEquals(Array.from(await find(trainer.studentEma!).read()), Array.from(start));
      const momentum = trainer.schedules.momentum[0];
      assertTrue(momentum > 0.89 && momentum < 1, `momentum ${momentum}`);
      for await (const batch of new DataLoader(data, { batchSize: 8 }).epoch(0)) {
        for (const value of Object.values(trainer.trainStep(batch))) value.dispose();
        break;
      }
      const stepped = await find(trainer.student).read() as Float32Array;
      const ema = await find(trainer.studentEma!).read() as Float32Array;
      let moved = 0;
      for (let i = 0; i < start.length; i++) {
        // float64 reference of one EMA step from the student's starting weights
        const expected = momentum * start[i] + (1 - momentum) * stepped[i];
        assertTrue(
          Math.abs(ema[i] - expected) <= 1e-6 + 1e-5 * Math.abs(expected),
          `EMA element ${i}: ${ema[i]} vs ${expected}`,
        );
        moved = Math.max(moved, Math.abs(stepped[i] - start[i]));
      }
      assertTrue(moved > 0, "the student did not move, so the check says nothing");
      trainer.dispose();

      const plain = tinyPatch4Config(join(dir, "p"), { embedDim: 8, studentEma: false });
      const again = await loadDistillTeacher(teacherRun, plain);
      const without = new DinoTrainer(plain, 6, { teacher: again.network });
      assertEquals(without.studentEma, undefined);
      assertTrue(without.evaluationBackbone === without.student.backbone);
      without.dispose();
    }),
);

gpuTest(
  "distill: bare backbone weights get a fixed random head; mismatches say why",
  () =>
    withTeacherRun(async (dir, teacherRun) => {
      const vit = new VisionTransformer({
        ...TINY_VIT,
        patchSize: 8,
      });
      const file = join(dir, "bare.safetensors");
      await Deno.writeFile(file, writeSafetensors(await vit.stateDict(), {}));
      vit.dispose();
      const student = tinyPatch4Config(join(dir, "s"), { embedDim: 8, outDim: 24 });
      await assertRejects(
        () => loadDistillTeacher(file, student, { heads: 2 }),
        ConfigError,
        "has no DINO head (backbone weights only)",
      );
      const bare = await loadDistillTeacher(file, student, { heads: 2, teacherHead: "random" });
      assertEquals(bare.head, "random");
      assertTrue(bare.description.includes("fixed random-init DINO head of 24"), bare.description);
      bare.network.dispose();
      await assertRejects(
        () => loadDistillTeacher(teacherRun, student),
        ConfigError,
        "the teacher's DINO head has 32 prototypes but the student's outDim is 24",
      );
      await assertRejects(
        () =>
          loadDistillTeacher(
            file,
            tinyPatch4Config(join(dir, "t"), { embedDim: 8, ibotLossWeight: 1 }),
            {
              heads: 2,
              teacherHead: "random",
            },
          ),
        ConfigError,
        "teacher's patch 8 and the student's patch 4 give different grids",
      );
    }),
);

/** Writes a DINOv2-style teacher file (`backbone.*`, `dino_head.*`, optionally `ibot_head.*`). */
async function writeTeacherFile(
  file: string,
  ibot?: { prototypes: number; inDim: number },
): Promise<Map<string, HostTensor> | undefined> {
  const vit = new VisionTransformer(TINY_VIT);
  const dino = new DinoHead({
    inDim: 16,
    outDim: 32,
    hiddenDim: 12,
    bottleneckDim: 8,
    layers: 3,
    normLastLayer: false,
    seed: 21,
  });
  const tensors = new Map<string, HostTensor>();
  for (const [name, value] of await vit.stateDict()) tensors.set(`backbone.${name}`, value);
  for (const [name, value] of await dino.stateDict()) tensors.set(`dino_head.${name}`, value);
  vit.dispose();
  dino.dispose();
  let ibotState: Map<string, HostTensor> | undefined;
  if (ibot) {
    const head = new DinoHead({
      inDim: ibot.inDim,
      outDim: ibot.prototypes,
      hiddenDim: 12,
      bottleneckDim: 8,
      layers: 3,
      normLastLayer: false,
      seed: 22,
    });
    ibotState = await head.stateDict();
    head.dispose();
    // trained magnitudes, not the initial ones, so that a random head cannot pass for it
    const magnitudes = Float32Array.from({ length: ibot.prototypes }, (_, i) => 0.5 + i / 64);
    ibotState.set("last_layer.weight_g", {
      dtype: "F32",
      shape: [ibot.prototypes, 1],
      data: magnitudes,
    });
    for (const [name, value] of ibotState) tensors.set(`ibot_head.${name}`, value);
  }
  await Deno.writeFile(file, writeSafetensors(tensors, {}));
  return ibotState;
}

gpuTest(
  "distill: a teacher's own iBOT head gives the iBOT targets; mismatched prototypes say why",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const file = join(dir, "teacher.safetensors");
      const ibotState = (await writeTeacherFile(file, { prototypes: 20, inDim: 16 }))!;
      const student = (overrides: Partial<DinoTrainConfig>) =>
        tinyPatch4Config(join(dir, "s"), {
          embedDim: 8,
          ibotLossWeight: 1,
          ibotOutDim: 20,
          ...overrides,
        });
      const teacher = await loadDistillTeacher(file, student({}), { heads: 2 });
      assertEquals(teacher.head, "checkpoint");
      assertEquals(teacher.ibotHead, "checkpoint");
      assertTrue(
        teacher.description.includes(
          "its DINO head (32 prototypes); its iBOT head (20 prototypes)",
        ),
        teacher.description,
      );
      const loaded = teacher.network.ibotHead!;
      assertTrue(loaded !== teacher.network.head, "the iBOT head is the DINO head");
      const named = loaded.namedParameters();
      assertEquals(named.map(([name]) => name).sort(), [...ibotState.keys()].sort());
      for (const [name, value] of named) {
        assertEquals(
          Array.from(await value.read()),
          Array.from(ibotState.get(name)!.data as Float32Array),
          `iBOT head ${name}`,
        );
      }
      // one step of distillation with it: the iBOT loss is there and finite
      const { DinoTrainer } = await import("../../src/train/dino_trainer.ts");
      const { DataLoader } = await import("../../src/data/loader.ts");
      const trainer = new DinoTrainer(student({}), 6, { teacher: teacher.network });
      for await (const batch of new DataLoader(data, { batchSize: 8 }).epoch(0)) {
        const result = trainer.trainStep(batch);
        const ibotLoss = (await result.ibotLoss!.read())[0];
        assertTrue(Number.isFinite(ibotLoss) && ibotLoss > 0, `iBOT loss ${ibotLoss}`);
        for (const value of Object.values(result)) value.dispose();
        break;
      }
      trainer.dispose(); // disposes the teacher with it

      // without iBOT the checkpoint's iBOT head is left unread
      const off = await loadDistillTeacher(file, student({ ibotLossWeight: 0 }), { heads: 2 });
      assertEquals(off.ibotHead, "none");
      assertEquals(off.network.ibotHead, undefined);
      assertTrue(!off.description.includes("iBOT"), off.description);
      off.network.dispose();

      await assertRejects(
        () => loadDistillTeacher(file, student({ ibotOutDim: 24 }), { heads: 2 }),
        ConfigError,
        "the teacher's iBOT head has 20 prototypes but the student's iBOT head gives 24",
      );

      const wide = join(dir, "wide.safetensors");
      await writeTeacherFile(wide, { prototypes: 20, inDim: 12 });
      await assertRejects(
        () => loadDistillTeacher(wide, student({}), { heads: 2 }),
        ConfigError,
        "the teacher's iBOT head takes 12 features but its backbone gives 16",
      );

      const plain = join(dir, "plain.safetensors");
      await writeTeacherFile(plain);
      // no separate iBOT head: its DINO head served iBOT too, so it gives the patch targets
      await assertRejects(
        () => loadDistillTeacher(plain, student({}), { heads: 2 }),
        ConfigError,
        "has no iBOT head, and its DINO head (which then served iBOT too) has 32 prototypes",
      );
      const shared = await loadDistillTeacher(plain, student({ ibotOutDim: 32 }), { heads: 2 });
      assertEquals(shared.ibotHead, "shared");
      assertTrue(shared.network.ibotHead === shared.network.head, "the DINO head serves iBOT");
      shared.network.dispose();
      const random = await loadDistillTeacher(plain, student({}), {
        heads: 2,
        teacherHead: "random",
      });
      assertEquals(random.ibotHead, "random");
      assertTrue(
        random.description.includes("a fixed random-init iBOT head of 20 prototypes"),
        random.description,
      );
      random.network.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("distill: the starting-weight share of an EMA is the product of its momenta", () => {
  const momentum = Float64Array.of(0.5, 0.5, 1, 0.8);
  assertEquals(startingWeightShare(momentum, 0, 3), 0.25);
  assertEquals(startingWeightShare(momentum, 1, 4), 0.4);
  assertEquals(startingWeightShare(momentum, 0, 0), 1);
  // steps past the schedule's end count as nothing
  assertEquals(startingWeightShare(momentum, 3, 9), 0.8);
});
