/**
 * Packs a finished capture's temporaries into arenas by lifetime (./memory_plan.ts): the pool
 * buffers the captured step acquired and released are replaced in its commands by ranges of a few
 * large buffers, where temporaries alive at different times share memory, and are destroyed. A
 * replay then holds the step's peak of live bytes rather than every buffer it ever touched.
 * @module
 */
import type { BufferPool } from "./buffer_pool.ts";
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
 * Replaces the temporaries of `captured` (its owned buffers in `acquired`: first handed out
 * during the capture) by arena ranges, when that takes fewer bytes. Returns the bytes saved.
 */
export function packCapture(
  captured: CapturedCommands,
  acquired: ReadonlySet<GPUBuffer>,
  context: PackingContext,
): number {
  const { device, pool } = context;
  const temporaries = captured.owned.filter((buffer) => acquired.has(buffer));
  const index = new Map(temporaries.map((buffer, i) => [buffer, i]));
  const items: PlanItem[] = temporaries.map((buffer) => ({
    bytes: pool.sizeOf(buffer),
    first: Infinity,
    last: -1,
  }));
  const conflicts = new Map<number, Set<number>>();
  captured.commands.forEach((command, position) => {
    const used = new Set<number>();
    for (const buffer of commandBuffers(command)) {
      const i = index.get(buffer);
      if (i !== undefined) used.add(i);
    }
    for (const i of used) {
      items[i].first = Math.min(items[i].first, position);
      items[i].last = Math.max(items[i].last, position);
      for (const j of used) {
        if (j !== i) (conflicts.get(i) ?? conflicts.set(i, new Set()).get(i)!).add(j);
      }
    }
  });
  const before = items.reduce((sum, item) => sum + item.bytes, 0);
  const plan = planMemory(
    items.map((item) => item.last < 0 ? { ...item, bytes: 0, first: 0, last: 0 } : item),
    conflicts,
    device.limits.minStorageBufferOffsetAlignment,
    Math.min(device.limits.maxBufferSize, 2 ** 31),
  );
  const after = plan.arenaBytes.reduce((sum, bytes) => sum + bytes, 0);
  if (temporaries.length === 0 || after >= before) return 0;
  context.flush();
  pool.destroyLive(temporaries);
  const arenas = plan.arenaBytes.map((bytes) =>
    pool.createLive(Math.max(bytes, 256), "captured step arena")
  );
  const range = (buffer: GPUBuffer): GPUBufferBinding | undefined => {
    const i = index.get(buffer);
    if (i === undefined) return undefined;
    const { arena, offset } = plan.placements[i];
    return { buffer: arenas[arena], offset, size: items[i].bytes };
  };
  for (const command of captured.commands) {
    if (command.kind === "dispatch") {
      if (!command.buffers.some((buffer) => index.has(buffer))) continue;
      command.groups[0] = device.createBindGroup({
        layout: command.pipeline.getBindGroupLayout(0),
        entries: command.buffers.map((buffer, binding) => ({
          binding,
          resource: range(buffer) ?? { buffer },
        })),
      });
    } else if (command.kind === "copy") {
      const source = range(command.source);
      const target = range(command.target);
      if (source) {
        [command.source, command.sourceOffset] = [
          source.buffer,
          source.offset! + command.sourceOffset,
        ];
      }
      if (target) {
        [command.target, command.targetOffset] = [
          target.buffer,
          target.offset! + command.targetOffset,
        ];
      }
    } else {
      const target = range(command.buffer);
      if (target) {
        [command.buffer, command.offset] = [target.buffer, target.offset! + command.offset];
      }
    }
  }
  captured.owned = captured.owned.filter((buffer) => !index.has(buffer));
  captured.arenas = arenas;
  return before - after;
}
