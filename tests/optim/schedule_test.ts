import { assertEquals, assertThrows } from "../helpers/assert.ts";
import { assertClose } from "../helpers/op_check.ts";
import {
  constantSchedule,
  cosineSchedule,
  cosineValueAt,
  valueAt,
} from "../../src/optim/schedule.ts";

// DINO's utils.cosine_scheduler(base_value=1, final_value=0.1, epochs=5, niter_per_ep=2,
// warmup_epochs=2, start_warmup_value=0): linspace(0, 1, 4) then
// 0.1 + 0.45 * (1 + cos(pi * i / 6)) for i = 0..5, written out by hand.
const DINO_VALUES = [
  0,
  1 / 3,
  2 / 3,
  1,
  1.0,
  0.1 + 0.45 * (1 + Math.sqrt(3) / 2),
  0.775,
  0.55,
  0.325,
  0.1 + 0.45 * (1 - Math.sqrt(3) / 2),
];

Deno.test("schedule: cosine with warm-up matches DINO's cosine_scheduler", () => {
  const schedule = cosineSchedule({
    base: 1,
    final: 0.1,
    totalSteps: 10,
    warmupSteps: 4,
    warmupStart: 0,
  });
  assertEquals(schedule.length, 10);
  assertClose(schedule, DINO_VALUES, "cosine schedule", { absolute: 1e-15, relative: 1e-14 });
  assertEquals(schedule[3], 1); // linspace ends exactly at base
});

Deno.test("schedule: DINO teacher momentum (no warm-up) and weight decay schedules", () => {
  // cosine_scheduler(0.996, 1, epochs=1, niter_per_ep=4): 1 - 0.002 * (1 + cos(pi * i / 4)).
  const momentum = cosineSchedule({ base: 0.996, final: 1, totalSteps: 4 });
  assertClose(
    momentum,
    [0.996, 1 - 0.002 * (1 + Math.SQRT1_2), 0.998, 1 - 0.002 * (1 - Math.SQRT1_2)],
    "momentum schedule",
    { absolute: 1e-15, relative: 0 },
  );
  // cosine_scheduler(0.04, 0.4, epochs=100, niter_per_ep=1): step 50 is the midpoint 0.22.
  const weightDecay = cosineSchedule({ base: 0.04, final: 0.4, totalSteps: 100 });
  assertClose([weightDecay[0], weightDecay[50]], [0.04, 0.22], "wd schedule", {
    absolute: 1e-15,
    relative: 1e-14,
  });
  // warm-up of a single step is linspace(start, base, 1) = [start].
  assertEquals(
    Array.from(cosineSchedule({ base: 2, final: 0, totalSteps: 3, warmupSteps: 1, warmupStart: 5 }))
      .slice(0, 2),
    [5, 2],
  );
});

Deno.test("schedule: valueAt helpers clamp and agree with the array", () => {
  const options = { base: 5e-4, final: 1e-6, totalSteps: 37, warmupSteps: 7, warmupStart: 1e-5 };
  const schedule = cosineSchedule(options);
  for (let step = 0; step < 37; step++) {
    assertEquals(cosineValueAt(options, step), schedule[step]);
    assertEquals(valueAt(schedule, step), schedule[step]);
  }
  assertEquals(valueAt(schedule, 100), schedule[36]);
  assertEquals(cosineValueAt(options, 100), schedule[36]);
  assertEquals(valueAt(schedule, -3), schedule[0]);
  assertEquals(Array.from(constantSchedule(0.5, 3)), [0.5, 0.5, 0.5]);
});

Deno.test("schedule: invalid options say what failed", () => {
  assertThrows(
    () => cosineSchedule({ base: 1, final: 0, totalSteps: 5, warmupSteps: 6 }),
    RangeError,
    "warmupSteps must be a whole number in 0..totalSteps, got 6 (totalSteps 5)",
  );
  assertThrows(
    () => cosineSchedule({ base: 1, final: 0, totalSteps: 2.5 }),
    RangeError,
    "totalSteps must be a whole number >= 0, got 2.5",
  );
  assertThrows(() => valueAt([], 0), RangeError, "the schedule is empty");
});
