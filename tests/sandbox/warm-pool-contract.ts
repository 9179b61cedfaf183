import { afterAll, describe, expect, it } from "vitest";
import type { WarmPool } from "../../src/sandbox/warm-pool.js";

/** What the warm-pool contract needs to know of one backend's pooled items. */
export interface WarmPoolSubject<T> {
  readonly name: string;
  /** A pool of real items of this backend (it may start filling at once). */
  pool(size: number): WarmPool<T>;
  /** Whether an item handed out still works (a container answers, an interpreter was not killed). */
  usable(item: T): Promise<boolean>;
  /** Releases an item the test acquired: the caller owns what it acquired. */
  release(item: T): Promise<void>;
  /** Resolves once nothing this subject's pools made holds resources any more; fails otherwise. */
  nothingLeft(): Promise<void>;
  /** A pool whose every creation fails, and the error code its acquire must throw. */
  broken(): { readonly pool: WarmPool<T>; readonly code: string };
  readonly timeoutMs: number;
  cleanup?(): Promise<void>;
}

/**
 * The contract every backend's warm pool keeps (Docker and gVisor containers, Pyodide interpreters,
 * and the pool itself with plain items): `size` items warmed ahead, each handed out once and never
 * again, a refill started by every acquire, a drain that releases everything not handed out and
 * nothing that was, and a failed creation thrown, typed, by the acquire that takes it.
 */
export function warmPoolContract<T>(s: WarmPoolSubject<T>): void {
  describe(`warm pool contract: ${s.name}`, () => {
    afterAll(async () => {
      await s.cleanup?.();
    }, s.timeoutMs);

    it(
      "fill warms `size` items; each acquire hands out one never handed out before and starts its refill",
      async () => {
        const pool = s.pool(2);
        const taken: T[] = [];
        try {
          await pool.fill();
          expect(pool.ready).toBe(2);
          taken.push(await pool.acquire());
          // The replacement is under way the moment an item leaves.
          expect(pool.ready + pool.warming).toBe(2);
          taken.push(await pool.acquire());
          taken.push(await pool.acquire()); // nothing ready: the oldest being made
          expect(new Set(taken).size).toBe(3);
          expect(pool.handedOut).toBe(3);
          for (const item of taken) expect(await s.usable(item)).toBe(true);
        } finally {
          await pool.drain();
          for (const item of taken) await s.release(item);
        }
        await s.nothingLeft();
      },
      s.timeoutMs,
    );

    it(
      "drain releases what is ready and what is still warming, never what a caller holds; later acquires throw",
      async () => {
        const pool = s.pool(2);
        await pool.fill();
        const held = await pool.acquire();
        // Its replacement may be ready or still warming (warm-pool.test.ts pins the warming case down).
        expect(pool.ready + pool.warming).toBe(2);
        await pool.drain();
        expect(pool.ready + pool.warming).toBe(0);
        expect(await s.usable(held)).toBe(true);
        await expect(pool.acquire()).rejects.toMatchObject({ code: "REIN_SANDBOX_FAILED" });
        await s.release(held);
        await s.nothingLeft();
      },
      s.timeoutMs,
    );

    it(
      "a creation that fails is thrown, typed, by the acquire that takes it",
      async () => {
        const { pool, code } = s.broken();
        try {
          await expect(pool.acquire()).rejects.toMatchObject({ code });
        } finally {
          await pool.drain();
        }
      },
      s.timeoutMs,
    );
  });
}
