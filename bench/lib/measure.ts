/** Timing, heap and statistics helpers shared by benchmarks. Needs `node --expose-gc`. */

const gcFn = (globalThis as { gc?: () => void }).gc;

/** A full collection. Twice, so objects freed by the first pass's finalizers and weak maps go too. */
export function fullGc(): void {
  if (!gcFn) throw new Error("run with `node --expose-gc` (npm run bench does)");
  gcFn();
  gcFn();
}

/**
 * Lets the event loop turn: until it does, the finished run's pending promise reactions and
 * suspended async frames still reference everything it allocated, and a GC cannot free it.
 */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface Measured<T> {
  /** Kept so that the caller decides when it may be collected. */
  readonly value: T;
  readonly ms: number;
  /** `heapUsed` after a full GC with `value` still referenced, minus `heapUsed` after a full GC before the run. */
  readonly heldBytes: number;
}

/**
 * Times `work()` and measures the heap its result keeps alive. The caller holds `value` until it
 * has finished with it, so the second GC cannot collect what the result references.
 */
export async function measure<T>(work: () => Promise<T>): Promise<Measured<T>> {
  await settle();
  fullGc();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  const value = await work();
  const ms = performance.now() - started;
  await settle();
  fullGc();
  const heldBytes = process.memoryUsage().heapUsed - heapBefore;
  return { value, ms, heldBytes };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const MB = 1024 * 1024;
