import { describe, expect, it } from "vitest";
import { SandboxPool } from "../../src/sandbox/pool.js";

/** A pool item that records its own life: made, disposed. */
class Item {
  disposed = false;
  constructor(readonly id: number) {}
  async dispose(): Promise<void> {
    this.disposed = true;
  }
}

/** A create() whose results the test releases one by one: deterministic, no timers. */
function controlledFactory() {
  const pending: { resolve: (i: Item) => void; reject: (e: unknown) => void }[] = [];
  const made: Item[] = [];
  let n = 0;
  return {
    made,
    pending,
    create: () =>
      new Promise<Item>((resolve, reject) => {
        pending.push({ resolve, reject });
      }),
    /** Finishes the oldest creation still pending. */
    finish() {
      const p = pending.shift();
      if (!p) throw new Error("nothing is being made");
      const item = new Item(++n);
      made.push(item);
      p.resolve(item);
      return item;
    },
  };
}

/** Lets promise callbacks already queued run (the pool records an item as made in one). */
const settled = () => new Promise<void>((r) => setImmediate(r));

/** close() waits for creations in flight: finish them so it can dispose them. */
async function closeFinishing(pool: SandboxPool<Item>, f: ReturnType<typeof controlledFactory>) {
  const closing = pool.close();
  while (f.pending.length) f.finish();
  await closing;
  expect(f.made.filter((i) => !i.disposed).length).toBeLessThanOrEqual(pool.handedOut);
}

describe("SandboxPool", () => {
  it("starts `size` creations at once and refills one for each item handed out", async () => {
    const f = controlledFactory();
    const pool = new SandboxPool({ size: 3, create: f.create });
    expect(f.pending).toHaveLength(3);
    f.finish();
    f.finish();
    f.finish();
    await settled();
    expect(pool.ready).toBe(3);
    await pool.acquire();
    expect(f.pending).toHaveLength(1); // the replacement is being made in the background
    expect(pool.ready).toBe(2);
    await closeFinishing(pool, f);
  });

  it("never hands the same item out twice, even after the caller disposed it", async () => {
    const f = controlledFactory();
    const pool = new SandboxPool({ size: 2, create: f.create });
    const seen = new Set<Item>();
    for (let i = 0; i < 10; i++) {
      while (f.pending.length) f.finish();
      const item = await pool.acquire();
      expect(seen.has(item)).toBe(false);
      seen.add(item);
      await item.dispose(); // a used item never goes back: the pool has no way to take it
    }
    expect(seen.size).toBe(10);
    expect(pool.handedOut).toBe(10);
    await closeFinishing(pool, f);
  });

  it("an acquire with nothing ready waits for the oldest creation, not a new one", async () => {
    const f = controlledFactory();
    const pool = new SandboxPool({ size: 1, create: f.create });
    const waiting = pool.acquire();
    const first = f.finish();
    expect(await waiting).toBe(first);
    await closeFinishing(pool, f);
  });

  it("close drains: disposes ready items and those still being made, and later acquires throw", async () => {
    const f = controlledFactory();
    const pool = new SandboxPool({ size: 3, create: f.create });
    f.finish();
    f.finish();
    const taken = await pool.acquire();
    const closing = pool.close();
    while (f.pending.length) f.finish(); // creations in flight when close was called
    await closing;
    expect(f.made.filter((i) => i !== taken).every((i) => i.disposed)).toBe(true);
    expect(taken.disposed).toBe(false); // the caller's item is the caller's
    await expect(pool.acquire()).rejects.toMatchObject({ code: "REIN_SANDBOX_FAILED" });
    expect(f.pending).toHaveLength(0); // nothing refills after close
  });

  it("a failed creation is thrown by the acquire that takes it; the pool keeps making new ones", async () => {
    let fail = true;
    let n = 0;
    const pool = new SandboxPool({
      size: 1,
      create: async () => {
        if (fail) throw new Error("engine down");
        return new Item(++n);
      },
    });
    await expect(pool.acquire()).rejects.toThrow("engine down");
    fail = false;
    await expect(pool.acquire()).rejects.toThrow("engine down"); // made before the engine came back
    const item = await pool.acquire();
    expect(item).toBeInstanceOf(Item);
    await pool.close();
  });

  it("refuses a size below 1", () => {
    expect(() => new SandboxPool({ size: 0, create: async () => new Item(0) })).toThrow(/positive integer/);
  });
});
