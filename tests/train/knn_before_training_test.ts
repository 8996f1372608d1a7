// Whether a new run evaluates the k-NN before training: always for in-memory sets, for streamed
// images only while decoding them stays under KNN_BEFORE_TRAINING_IMAGES (the first step waits
// for it), and as configured with "always" / "never".
import type { Dataset } from "../../src/data/dataset.ts";
import { IndexedImages } from "../../src/data/stream/image_index.ts";
import { KNN_BEFORE_TRAINING_IMAGES, knnBeforeTraining } from "../../src/train/run.ts";
import { assertEquals, assertTrue } from "../helpers/assert.ts";

function streamed(count: number): IndexedImages {
  const paths = Array.from({ length: count }, (_, i) => `/photos/class_${i % 3}/${i}.jpg`);
  const labels = Int32Array.from({ length: count }, (_, i) => i % 3);
  return new IndexedImages({ paths, labels, classNames: ["a", "b", "c"] }, "folder:/photos");
}

function inMemory(count: number): Dataset {
  return {
    length: count,
    classes: 10,
    channels: 1,
    height: 28,
    width: 28,
    get: () => {
      throw new Error("the decision must not read images");
    },
  };
}

const auto = { knnBeforeTraining: "auto", evalTrainLimit: 0 } as const;

Deno.test("knnBeforeTraining: in-memory sets of any size are evaluated", () => {
  assertEquals(knnBeforeTraining(auto, inMemory(60_000), inMemory(10_000)), { evaluate: true });
});

Deno.test("knnBeforeTraining: streamed images count against the limit, bank after its limit", () => {
  const half = KNN_BEFORE_TRAINING_IMAGES / 2;
  assertEquals(knnBeforeTraining(auto, streamed(half), streamed(half)), { evaluate: true });
  const over = knnBeforeTraining(auto, streamed(half + 1), streamed(half));
  assertEquals(over.evaluate, false);
  assertTrue(
    over.skipped!.includes(`decode ${KNN_BEFORE_TRAINING_IMAGES + 1} images`) &&
      over.skipped!.includes("knnBeforeTraining=always"),
    over.skipped!,
  );
  // a bank limited by evalTrainLimit counts only the images it holds
  const limited = { knnBeforeTraining: "auto", evalTrainLimit: 2_000 } as const;
  assertEquals(knnBeforeTraining(limited, streamed(40_000), streamed(8_000)), { evaluate: true });
  // an in-memory bank (--eval-data fashion-mnist) with streamed queries counts the queries only
  assertEquals(knnBeforeTraining(auto, inMemory(60_000), streamed(half)), { evaluate: true });
});

Deno.test("knnBeforeTraining: always, never, and no queries", () => {
  const big = streamed(KNN_BEFORE_TRAINING_IMAGES * 2);
  assertEquals(
    knnBeforeTraining({ ...auto, knnBeforeTraining: "always" }, big, big),
    { evaluate: true },
  );
  assertEquals(
    knnBeforeTraining({ ...auto, knnBeforeTraining: "never" }, inMemory(10), inMemory(10)),
    { evaluate: false },
  );
  assertEquals(knnBeforeTraining(auto, inMemory(10), undefined), { evaluate: false });
});
