/**
 * Packing a recorded step's temporaries by lifetime: each temporary (a pool buffer the step
 * acquired and released) gets a range in one of a few arenas, so that temporaries whose command
 * ranges do not overlap share memory. A size-class pool cannot do this across dtypes: at f16 the
 * activations freed in the backward are half the size of the f32 gradients allocated then.
 * Two temporaries bound by the same command lie in different arenas: WebGPU refuses one buffer
 * bound read-only and writable in one dispatch, and a copy within one buffer.
 * @module
 */

/** One temporary: its bytes and the first and last command that use it. */
export interface PlanItem {
  /** Bytes (the binding's size). */
  bytes: number;
  /** Index of the first command that uses it. */
  first: number;
  /** Index of the last command that uses it. */
  last: number;
}

/** Where a temporary lies: its arena and byte offset there. */
export interface Placement {
  /** Index into `MemoryPlan.arenaBytes`. */
  arena: number;
  /** Byte offset in the arena (a multiple of the alignment). */
  offset: number;
}

/** The plan: the arenas' sizes and each item's placement (in the items' order). */
export interface MemoryPlan {
  /** Bytes of each arena. */
  arenaBytes: number[];
  /** Placement of item i. */
  placements: Placement[];
}

interface Placed {
  item: PlanItem;
  offset: number;
}

/**
 * Places `items` (largest first) at the lowest aligned offset of an arena where no item alive at
 * the same time overlaps it, never in an arena that holds an item it `conflicts` with (pairs of
 * item indices used by one command), preferring the arena that grows least; an arena stays under
 * `maxArenaBytes` (an item larger than that gets an arena of its own).
 */
export function planMemory(
  items: readonly PlanItem[],
  conflicts: ReadonlyMap<number, ReadonlySet<number>>,
  alignment: number,
  maxArenaBytes: number,
): MemoryPlan {
  const arenas: Placed[][] = [];
  const arenaBytes: number[] = [];
  const placements: Placement[] = new Array(items.length);
  const order = items.map((_, index) => index).sort((x, y) =>
    items[y].bytes - items[x].bytes || items[x].first - items[y].first
  );
  for (const index of order) {
    const item = items[index];
    const excluded = new Set<number>();
    for (const other of conflicts.get(index) ?? []) {
      const placement = placements[other];
      if (placement) excluded.add(placement.arena);
    }
    let best: Placement | undefined;
    let bestGrowth = Infinity;
    for (let arena = 0; arena < arenas.length; arena++) {
      if (excluded.has(arena)) continue;
      const offset = lowestFreeOffset(arenas[arena], item, alignment);
      const end = offset + item.bytes;
      if (end > maxArenaBytes) continue;
      const growth = Math.max(0, end - arenaBytes[arena]);
      if (growth < bestGrowth) {
        best = { arena, offset };
        bestGrowth = growth;
        if (growth === 0) break;
      }
    }
    if (!best) {
      arenas.push([]);
      arenaBytes.push(0);
      best = { arena: arenas.length - 1, offset: 0 };
    }
    arenas[best.arena].push({ item, offset: best.offset });
    arenaBytes[best.arena] = Math.max(arenaBytes[best.arena], best.offset + item.bytes);
    placements[index] = best;
  }
  return { arenaBytes, placements };
}

/** The lowest offset (aligned) where `item` overlaps no placed item alive at the same time. */
function lowestFreeOffset(placed: readonly Placed[], item: PlanItem, alignment: number): number {
  const busy = placed
    .filter(({ item: other }) => other.first <= item.last && item.first <= other.last)
    .sort((x, y) => x.offset - y.offset);
  let offset = 0;
  for (const { item: other, offset: start } of busy) {
    if (offset + item.bytes <= start) break;
    offset = Math.max(offset, alignUp(start + other.bytes, alignment));
  }
  return offset;
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
