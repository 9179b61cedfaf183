/**
 * The Redis half of `npm run bench -- state`: one step's appends (6 events, then the durability
 * barrier) on the RedisStore against raw `XADD`s of the same entries in one pipeline on the same
 * server, in the same run (both pay one tick's yield); and the loop at N on the RedisStore against
 * the in-memory log. Needs a Redis: `bash scripts/setup-redis.sh` (or `--redis <url>`).
 */
import { randomBytes } from "node:crypto";
import * as rein from "../dist/index.js";
import type { BenchOptions, Table } from "./lib/bench.ts";
import { benchEvent, pct, storeLoop } from "./lib/state-loop.ts";

const EVENTS_PER_STEP = 6;

/** The Redis tables of the state benchmark, and their figures. */
export async function redisState(
  options: BenchOptions,
  steps: number,
  calls: number,
): Promise<{ tables: Table[]; json: unknown }> {
  const url = options.flags.redis ?? process.env.REIN_TEST_REDIS_URL ?? "redis://127.0.0.1:6379/0";
  const prefix = `rein-bench-${randomBytes(4).toString("hex")}`;
  let store: rein.RedisStore;
  try {
    store = await rein.RedisStore.open(url, { prefix });
  } catch (err) {
    const why = `Redis at ${url} did not answer (${(err as Error).message}); run bash scripts/setup-redis.sh`;
    options.log(why);
    return {
      tables: [{ title: "RedisStore", header: ["result"], rows: [["not measured"]], notes: [why] }],
      json: { error: why },
    };
  }
  const { Redis } = await import("ioredis");
  const raw = new Redis(url);
  try {
    options.log(`Redis append latency: ${steps} steps of ${EVENTS_PER_STEP} events`);
    const storeMs: number[] = [];
    const rawMs: number[] = [];
    let seq = 0;
    let rawSeq = 0;
    const rawKey = `${prefix}:raw-stream`;
    // Alternate the two in blocks, so load on the machine falls on both alike.
    for (let block = 0; block < 10; block++) {
      for (let s = 0; s < steps / 10; s++) {
        const t = performance.now();
        for (let k = 0; k < EVENTS_PER_STEP; k++) store.eventLog.append(benchEvent("ses_a", ++seq));
        await store.eventLog.sync?.();
        storeMs.push(performance.now() - t);
      }
      for (let s = 0; s < steps / 10; s++) {
        const t = performance.now();
        // The same yield the store's commit waits for (one tick), so both sides pay it.
        await new Promise((r) => setImmediate(r));
        const p = raw.pipeline();
        for (let k = 0; k < EVENTS_PER_STEP; k++) {
          const e = benchEvent("ses_a", ++rawSeq) as { seq: number };
          p.xadd(rawKey, `${e.seq}-0`, "e", JSON.stringify(e));
        }
        await p.exec();
        rawMs.push(performance.now() - t);
      }
    }
    const sort = (a: number[]) => [...a].sort((x, y) => x - y);
    const st = sort(storeMs);
    const rw = sort(rawMs);
    options.log(`Redis loop: ${calls} calls, memory then Redis, 3 alternations`);
    const mem: number[] = [];
    const red: number[] = [];
    for (let r = 0; r < 3; r++) {
      mem.push((await storeLoop(calls, undefined)).ms);
      red.push((await storeLoop(calls, store)).ms);
    }
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[1]!;
    const row = (name: string, a: number[]) => [name, pct(a, 50).toFixed(3), pct(a, 99).toFixed(3)];
    const loopRatio = med(red) / med(mem);
    return {
      tables: [
        {
          title: `Redis append latency per step (${EVENTS_PER_STEP} events + durability barrier), ms`,
          header: ["store", "p50", "p99"],
          rows: [
            row("RedisStore", st),
            row("raw XADD (1 pipeline/step)", rw),
            [
              "ratio",
              `${(pct(st, 50) / pct(rw, 50)).toFixed(2)}×`,
              `${(pct(st, 99) / pct(rw, 99)).toFixed(2)}×`,
            ],
          ],
          notes: [
            "the store's step: one Lua script per session (conditional append, record, index, TTL) sent from the worker thread",
          ],
        },
        {
          title: `Loop on Redis, ${calls} one-no-op-call turns (median of 3), ms`,
          header: ["event log", "total ms", "per call µs"],
          rows: [
            ["MemoryEventLog", med(mem).toFixed(0), ((med(mem) * 1000) / calls).toFixed(1)],
            ["RedisStore", med(red).toFixed(0), ((med(red) * 1000) / calls).toFixed(1)],
            ["ratio", `${loopRatio.toFixed(2)}×`, ""],
          ],
        },
      ],
      json: {
        latency: { storeP50: pct(st, 50), storeP99: pct(st, 99), rawP50: pct(rw, 50), rawP99: pct(rw, 99) },
        loop: { memoryMs: mem, redisMs: red, ratio: loopRatio },
      },
    };
  } finally {
    await store.close().catch(() => {});
    let cursor = "0";
    do {
      const [next, keys] = await raw.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await raw.del(...keys);
    } while (cursor !== "0");
    raw.disconnect();
  }
}
