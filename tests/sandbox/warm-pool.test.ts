import { describe, expect, it } from "vitest";
import { SandboxUnavailableError } from "../../src/protocol/errors.js";
import { WarmPool } from "../../src/sandbox/warm-pool.js";
import { warmPoolContract } from "./warm-pool-contract.js";

/** Plain items that record whether the pool or their caller released them. */
const live = new Set<{ released: boolean }>();
warmPoolContract<{ released: boolean }>({
  name: "plain items",
  pool: (size) =>
    new WarmPool({
      size,
      create: async () => {
        const item = { released: false };
        live.add(item);
        return item;
      },
      destroy: (item) => {
        item.released = true;
        live.delete(item);
      },
    }),
  usable: async (item) => !item.released,
  release: async (item) => {
    item.released = true;
    live.delete(item);
  },
  nothingLeft: async () => expect(live.size).toBe(0),
  broken: () => ({
    pool: new WarmPool({
      size: 1,
      create: async () => {
        throw new SandboxUnavailableError("REIN_SANDBOX_ENGINE_UNAVAILABLE", "engine down", {});
      },
      destroy: () => {},
    }),
    code: "REIN_SANDBOX_ENGINE_UNAVAILABLE",
  }),
  timeoutMs: 10_000,
});

/** Items whose creation the test finishes by hand, so every ordering is deterministic. */
function manual() {
  let made = 0;
  const pending: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
  const destroyed: number[] = [];
  const signals: AbortSignal[] = [];
  const pool = (size: number, usable?: (n: number) => boolean) =>
    new WarmPool<number>({
      size,
      create: (signal) =>
        new Promise<number>((resolve, reject) => {
          pending.push({ resolve, reject });
          signals.push(signal);
        }),
      destroy: (n) => {
        destroyed.push(n);
      },
      ...(usable ? { usable } : {}),
    });
  const finishNext = () => pending.shift()!.resolve(++made);
  const failNext = () => pending.shift()!.reject(new Error("broken setup"));
  return { pool, finishNext, failNext, destroyed, pending, signals };
}

describe("WarmPool", () => {
  it("fills to its size, hands each item out once, and refills in the background", async () => {
    const m = manual();
    const pool = m.pool(2);
    const filled = pool.fill();
    expect(pool.warming).toBe(2);
    m.finishNext();
    m.finishNext();
    await filled;
    expect(pool.ready).toBe(2);
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(new Set([a, b]).size).toBe(2);
    // Two acquires started two refills; nothing was handed out twice.
    expect(pool.ready).toBe(0);
    expect(pool.warming).toBe(2);
    m.finishNext();
    m.finishNext();
    await pool.fill();
    const c = await pool.acquire();
    expect([a, b]).not.toContain(c);
  });

  it("an acquire with nothing ready waits for the oldest item being made", async () => {
    const m = manual();
    const pool = m.pool(1);
    void pool.fill();
    const waiting = pool.acquire();
    m.finishNext();
    expect(await waiting).toBe(1);
  });

  it("size 0 makes an item per acquire and keeps none", async () => {
    const m = manual();
    const pool = m.pool(0);
    const a = pool.acquire();
    m.finishNext();
    expect(await a).toBe(1);
    expect(pool.ready + pool.warming).toBe(0);
  });

  it("an item no longer usable is destroyed and the next one is handed out", async () => {
    const m = manual();
    const pool = m.pool(2, (n) => n !== 1);
    const filled = pool.fill();
    m.finishNext();
    m.finishNext();
    await filled;
    expect(await pool.acquire()).toBe(2);
    expect(m.destroyed).toEqual([1]);
  });

  it("drain destroys what is ready and what is still warming; later acquires throw", async () => {
    const m = manual();
    const pool = m.pool(2);
    void pool.fill();
    m.finishNext();
    await Promise.resolve();
    const drained = pool.drain();
    // Items still warming are told to stop; one that finishes anyway is destroyed, never handed out.
    expect(m.signals.every((s) => s.aborted)).toBe(true);
    m.finishNext();
    await drained;
    expect(m.destroyed.sort()).toEqual([1, 2]);
    await expect(pool.acquire()).rejects.toMatchObject({ code: "REIN_SANDBOX_FAILED" });
  });

  it("a failed creation rejects the acquire and stops refilling until the next acquire", async () => {
    const m = manual();
    const pool = m.pool(1);
    const a = pool.acquire();
    m.failNext();
    await expect(a).rejects.toThrow("broken setup");
    expect(pool.warming).toBe(0);
    const b = pool.acquire();
    m.finishNext();
    expect(await b).toBe(1);
  });

  it("drain waits for destroys that take time: what it released is released when it resolves", async () => {
    let finish!: () => void;
    const released: number[] = [];
    const pool = new WarmPool<number>({
      size: 1,
      create: async () => 7,
      destroy: (n) =>
        new Promise<void>((resolve) => {
          finish = () => {
            released.push(n);
            resolve();
          };
        }),
    });
    await pool.fill();
    let drained = false;
    const draining = pool.drain().then(() => {
      drained = true;
    });
    await new Promise<void>((r) => setImmediate(r));
    expect(drained).toBe(false);
    finish();
    await draining;
    expect(released).toEqual([7]);
  });

  it("a destroy that throws does not break the drain", async () => {
    const pool = new WarmPool<number>({
      size: 2,
      create: async () => 1,
      destroy: () => {
        throw new Error("already gone");
      },
    });
    await pool.fill();
    await expect(pool.drain()).resolves.toBeUndefined();
  });

  it("refuses a negative or fractional size", () => {
    const m = manual();
    expect(() => m.pool(-1)).toThrow(expect.objectContaining({ code: "REIN_SANDBOX_FAILED" }));
    expect(() => m.pool(1.5)).toThrow(/non-negative integer/);
  });
});
