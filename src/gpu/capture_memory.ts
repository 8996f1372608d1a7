/**
 * Packs a finished capture's temporaries into arenas by lifetime (./memory_plan.ts): the pool
 * buffers the captured step acquired and released are replaced in its commands by ranges of a few
 * large buffers, where temporaries alive at different times share memory, and are destroyed. A
 * replay then holds the step's peak of live bytes rather than every buffer it ever touched.
 * @module
 */
import type { BufferPool, BufferSpan } from "./buffer_pool.ts";
import type { CapturedCommand, CapturedCommands } from "./capture.ts";
import { type PlanItem, planMemory } from "./memory_plan.ts";

/** What packing needs of the device. */
export interface PackingContext {
  /** The device (bind groups over ranges). */
  device: GPUDevice;
  /** The pool the temporaries came from. */
  pool: BufferPool;
  /** Submits recorded work (before buffers it uses are destroyed). */
  flush(): void;
}

/** The buffers a captured command uses. */
function commandBuffers(command: CapturedCommand): readonly GPUBuffer[] {
  if (command.kind === "dispatch") return command.buffers;
  if (command.kind === "copy") return [command.source, command.target];
  return [command.buffer];
}

/**
 * Replaces the temporaries of `captured` (its owned buffers with `spans`: first handed out during
 * the capture) by arena ranges, one per span of use, when that takes fewer bytes. Returns the
 * bytes saved.
 */
export function packCapture(
  captured: CapturedCommands,
  spans: ReadonlyMap<GPUBuffer, readonly BufferSpan[]>,
  context: PackingContext,
): number {
  const { device, pool } = context;
  const temporaries = captured.owned.filter((buffer) => spans.has(buffer));
  // one plan item per span of use of a temporary (the pool hands one buffer to several tensors)
  const items: PlanItem[] = [];
  const itemSpans: BufferSpan[] = [];
  const itemsOf = new Map<GPUBuffer, number[]>();
  for (const buffer of temporaries) {
    const indices: number[] = [];
    for (const span of spans.get(buffer)!) {
      indices.push(items.length);
      items.push({ bytes: pool.sizeOf(buffer), first: Infinity, last: -1 });
      itemSpans.push(span);
    }
    itemsOf.set(buffer, indices);
  }
  // each command's temporaries, as the plan item of the span it falls in
  const usedBy: Map<GPUBuffer, number>[] = [];
  const conflicts = new Map<number, Set<number>>();
  let outsideSpans = false;
  captured.commands.forEach((command, position) => {
    const itemOf = new Map<GPUBuffer, number>();
    for (const buffer of commandBuffers(command)) {
      const i = itemsOf.get(buffer)?.find((item) =>
        itemSpans[item][0] <= position && position < itemSpans[item][1]
      );
      if (i !== undefined) itemOf.set(buffer, i);
      else if (itemsOf.has(buffer)) outsideSpans = true;
    }
    usedBy.push(itemOf);
    const used = new Set(itemOf.values());
    for (const i of used) {
      items[i].first = Math.min(items[i].first, position);
      items[i].last = Math.max(items[i].last, position);
      for (const j of used) {
        if (j !== i) (conflicts.get(i) ?? conflicts.set(i, new Set()).get(i)!).add(j);
      }
    }
  });
  // a temporary used while the pool did not count it as handed out: leave the capture as it is
  if (outsideSpans || temporaries.length === 0) return 0;
  const before = temporaries.reduce((sum, buffer) => sum + pool.sizeOf(buffer), 0);
  const plan = planMemory(
    items.map((item) => item.last < 0 ? { bytes: 0, first: 0, last: 0 } : item),
    conflicts,
    device.limits.minStorageBufferOffsetAlignment,
    Math.min(device.limits.maxBufferSize, 2 ** 31),
  );
  const after = plan.arenaBytes.reduce((sum, bytes) => sum + bytes, 0);
  if (after >= before) return 0;
  context.flush();
  pool.destroyLive(temporaries);
  const arenas = plan.arenaBytes.map((bytes) =>
    pool.createLive(Math.max(bytes, 256), "captured step arena")
  );
  const range = (buffer: GPUBuffer, position: number) => {
    const i = usedBy[position].get(buffer);
    if (i === undefined) return undefined;
    const { arena, offset } = plan.placements[i];
    return { buffer: arenas[arena], offset, size: items[i].bytes };
  };
  captured.commands.forEach((command, position) => {
    if (command.kind === "dispatch") {
      if (usedBy[position].size === 0) return;
      command.groups[0] = device.createBindGroup({
        layout: command.pipeline.getBindGroupLayout(0),
        entries: command.buffers.map((buffer, binding) => ({
          binding,
          resource: range(buffer, position) ?? { buffer },
        })),
      });
    } else if (command.kind === "copy") {
      const source = range(command.source, position);
      const target = range(command.target, position);
      if (source) {
        command.source = source.buffer;
        command.sourceOffset += source.offset;
      }
      if (target) {
        command.target = target.buffer;
        command.targetOffset += target.offset;
      }
    } else {
      const target = range(command.buffer, position);
      if (target) {
        command.buffer = target.buffer;
        command.offset += target.offset;
      }
    }
  });
  captured.owned = captured.owned.filter((buffer) => !itemsOf.has(buffer));
  captured.arenas = arenas;
  return before - after;
}
