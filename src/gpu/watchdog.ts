/**
 * Turns a GPU wait that never ends into an error. Deno does not surface every device loss, so a
 * hung submission would otherwise hang the process.
 * @module
 */
import { GpuTimeoutError } from "./errors.ts";

/** Milliseconds a GPU wait may take before it is an error; `DINOGPU_WATCHDOG_MS` overrides. */
export function watchdogLimit(): number {
  let fromEnv: string | undefined;
  try {
    fromEnv = globalThis.Deno?.env.get("DINOGPU_WATCHDOG_MS");
  } catch {
    fromEnv = undefined; // no env permission: keep the default
  }
  const parsed = fromEnv ? Number(fromEnv) : NaN;
  return Number.isFinite(parsed) && parsed > 0 ? parsed : 120_000;
}

/** Resolves as `promise` does, or rejects with a GpuTimeoutError after `limitMs`. */
export function withWatchdog<T>(
  promise: Promise<T>,
  what: string,
  limitMs: number = watchdogLimit(),
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GpuTimeoutError(what, limitMs)), limitMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
