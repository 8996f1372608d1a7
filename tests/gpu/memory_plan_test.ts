// Packing a captured step's temporaries by lifetime (src/gpu/memory_plan.ts): pure planning.
import { type PlanItem, planMemory } from "../../src/gpu/memory_plan.ts";
import { assertEquals, assertTrue } from "../helpers/assert.ts";

/** Whether two placed items share bytes of one arena while both are alive. */
function clash(items: PlanItem[], plan: ReturnType<typeof planMemory>, i: number, j: number) {
  const [a, b] = [plan.placements[i], plan.placements[j]];
  const together = items[i].first <= items[j].last && items[j].first <= items[i].last;
  const overlap = a.offset < b.offset + items[j].bytes && b.offset < a.offset + items[i].bytes;
  return a.arena === b.arena && together && overlap;
}

Deno.test("memory plan: items alive at different times share memory, live ones do not", () => {
  const items: PlanItem[] = [
    { bytes: 4096, first: 0, last: 2 },
    { bytes: 2048, first: 3, last: 5 },
    { bytes: 2048, first: 4, last: 6 },
    { bytes: 1024, first: 1, last: 4 },
  ];
  const plan = planMemory(items, new Map(), 256, 2 ** 30);
  // 4096 then 2048 + 2048 in its place, 1024 beside: 5120 bytes against 9216 in buffers
  assertEquals(plan.arenaBytes, [5120]);
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) assertTrue(!clash(items, plan, i, j), `${i} ${j}`);
  }
  for (const placement of plan.placements) assertEquals(placement.offset % 256, 0);
});

Deno.test("memory plan: items of one command lie in different arenas; offsets aligned", () => {
  const items: PlanItem[] = [
    { bytes: 4000, first: 0, last: 1 },
    { bytes: 1000, first: 1, last: 2 },
    { bytes: 1000, first: 2, last: 3 },
  ];
  // command 1 binds items 0 and 1, command 2 items 1 and 2
  const conflicts = new Map([[0, new Set([1])], [1, new Set([0, 2])], [2, new Set([1])]]);
  const plan = planMemory(items, conflicts, 256, 2 ** 30);
  const arenaOf = plan.placements.map((placement) => placement.arena);
  assertTrue(arenaOf[0] !== arenaOf[1] && arenaOf[1] !== arenaOf[2], arenaOf.join(","));
  // item 2 reuses item 0's bytes (alive after it), so two arenas of 4000 and 1000 bytes
  assertEquals(arenaOf[2], arenaOf[0]);
  assertEquals(plan.arenaBytes.reduce((sum, bytes) => sum + bytes, 0), 5000);
  const aligned = planMemory(
    [{ bytes: 100, first: 0, last: 0 }, { bytes: 100, first: 0, last: 0 }],
    new Map(),
    256,
    2 ** 30,
  );
  assertEquals(aligned.placements.map((placement) => placement.offset).sort(), [0, 256]);
});

Deno.test("memory plan: an arena stays under its cap", () => {
  const items: PlanItem[] = [0, 1, 2].map(() => ({ bytes: 600, first: 0, last: 0 }));
  const plan = planMemory(items, new Map(), 256, 1024);
  assertEquals(plan.arenaBytes, [600, 600, 600]);
});
