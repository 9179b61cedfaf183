/**
 * state (issue 18): what durability costs, against baselines measured in the same run.
 * (1) One step's appends (6 events, then the durability barrier) on the SQLite store against a raw
 * `INSERT` of the same rows in one transaction on a file with the same pragmas: p50/p99 per step,
 * rounds alternating; target ≤ 1.5× raw and p99 ≤ 2 ms. (2) The loop at N one-no-op-call turns on
 * the SQLite store against the in-memory log (warm-up run each, then alternating repetitions; median
 * run time and p50/p99 per step); target within 2×. (3) What bounds (2): a step must be durable
 * twice (its journal before the tool runs, its results and the next reservation before the model
 * reads them), so the floor is the in-memory loop plus two raw commits per step, measured here too.
 * (4) The same on the Redis store, against raw `XADD`s (bench/state-redis.ts; `--redis <url>`).
 * Flags: `--quick`, `--steps <n>` (default 5000), `--calls <n>` (default 2000), `--reps <n>` (default 5).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as rein from "../dist/index.js";
import type { Benchmark, BenchOptions, BenchOutput } from "./lib/bench.ts";
import { benchEvent, pct, storeLoop } from "./lib/state-loop.ts";
import { redisState } from "./state-redis.ts";

const EVENTS_PER_STEP = 6;
const ROUNDS = 3;

const sorted = (a: readonly number[]) => [...a].sort((x, y) => x - y);
const median = (a: readonly number[]) => pct(sorted(a), 50);
const tick = () => new Promise((r) => setImmediate(r));

/** A raw node:sqlite file with the store's pragmas and events table: the baseline's writes. */
async function rawDb(file: string) {
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(file);
  db.exec(
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 10000; PRAGMA journal_size_limit = 16777216",
  );
  db.exec(
    "CREATE TABLE events (tenant TEXT, session TEXT, seq INTEGER, type TEXT, body TEXT, PRIMARY KEY (tenant, session, seq)) WITHOUT ROWID",
  );
  const insert = db.prepare("INSERT INTO events VALUES (?, ?, ?, ?, ?)");
  let seq = 0;
  return {
    /** One transaction of `n` events, then the same one-tick yield the store's commit waits for. */
    async commit(n: number) {
      db.exec("BEGIN IMMEDIATE");
      for (let k = 0; k < n; k++) {
        const e = benchEvent("ses_a", ++seq) as { seq: number };
        insert.run("bench", "ses_a", e.seq, "tool_call_finished", JSON.stringify(e));
      }
      db.exec("COMMIT");
      await tick();
    },
    close: () => db.close(),
  };
}

async function storeRound(file: string, steps: number): Promise<number[]> {
  const store = await rein.SqliteStore.open(file);
  const ms: number[] = [];
  let seq = 0;
  for (let s = 0; s < steps; s++) {
    const t = performance.now();
    for (let k = 0; k < EVENTS_PER_STEP; k++) store.eventLog.append(benchEvent("ses_a", ++seq));
    await store.eventLog.sync?.();
    ms.push(performance.now() - t);
  }
  await store.close();
  return ms;
}

async function rawRound(file: string, steps: number): Promise<number[]> {
  const db = await rawDb(file);
  const ms: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t = performance.now();
    await db.commit(EVENTS_PER_STEP);
    ms.push(performance.now() - t);
  }
  db.close();
  return ms;
}

/** Rounds alternate store and raw, each on a fresh file, so load drifts hit both alike. */
async function appendLatency(dir: string, steps: number, rounds: number) {
  const store: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < rounds; r++) {
    store.push(...(await storeRound(join(dir, `store-${r}.db`), steps)));
    raw.push(...(await rawRound(join(dir, `raw-${r}.db`), steps)));
  }
  return { store: sorted(store), raw: sorted(raw) };
}

/** The floor of a durable loop: two raw commits per step (the step's 6 events split 3 + 3). */
async function floorRun(file: string, calls: number): Promise<number> {
  const db = await rawDb(file);
  const t = performance.now();
  for (let s = 0; s < calls; s++) {
    await db.commit(EVENTS_PER_STEP / 2);
    await db.commit(EVENTS_PER_STEP / 2);
  }
  const ms = performance.now() - t;
  db.close();
  return ms;
}

/** One run of `calls` turns on a SQLite store at `file` (the in-memory log when undefined). */
async function loop(file: string | undefined, calls: number): Promise<{ ms: number; steps: number[] }> {
  const store = file ? await rein.SqliteStore.open(file) : undefined;
  try {
    return await storeLoop(calls, store);
  } finally {
    await store?.close();
  }
}

const bench: Benchmark = {
  name: "state",
  description:
    "SQLite and Redis stores: append latency vs raw INSERT / XADD, loop at N on SQLite and Redis vs memory",
  async run(options: BenchOptions): Promise<BenchOutput> {
    const steps = Number(options.flags.steps ?? (options.quick ? 1000 : 5000));
    const calls = Number(options.flags.calls ?? (options.quick ? 500 : 2000));
    const reps = Number(options.flags.reps ?? (options.quick ? 1 : 5));
    for (const [name, v] of [
      ["steps", steps],
      ["calls", calls],
      ["reps", reps],
    ] as const)
      if (!Number.isInteger(v) || v < 1) throw new Error(`state: --${name} must be a positive integer`);
    const dir = mkdtempSync(join(tmpdir(), "rein-bench-state-"));
    let n = 0;
    const file = (what: string) => join(dir, `${what}-${++n}.db`);
    try {
      const rounds = options.quick ? 1 : ROUNDS;
      options.log(`append latency: ${rounds} rounds × ${steps} steps of ${EVENTS_PER_STEP} events`);
      const lat = await appendLatency(dir, steps, rounds);
      const row = (name: string, a: number[]) => [name, pct(a, 50).toFixed(3), pct(a, 99).toFixed(3)];
      const ratio50 = pct(lat.store, 50) / pct(lat.raw, 50);
      const ratio99 = pct(lat.store, 99) / pct(lat.raw, 99);

      options.log(`loop: ${calls} calls, a warm-up run each, then ${reps} × (memory, SQLite, floor)`);
      await loop(undefined, calls);
      await loop(file("warm"), calls);
      const mem: number[] = [];
      const sql: number[] = [];
      const floor: number[] = [];
      const memSteps: number[] = [];
      const sqlSteps: number[] = [];
      for (let r = 0; r < reps; r++) {
        const m = await loop(undefined, calls);
        mem.push(m.ms);
        memSteps.push(...m.steps);
        const q = await loop(file("loop"), calls);
        sql.push(q.ms);
        sqlSteps.push(...q.steps);
        floor.push(await floorRun(file("floor"), calls));
      }
      const loopRatio = median(sql) / median(mem);
      const floorRatio = (median(mem) + median(floor)) / median(mem);
      const ms = sorted(memSteps);
      const ss = sorted(sqlSteps);
      const redis = await redisState(options, steps, calls);
      const spread = (a: number[]) => `${Math.min(...a).toFixed(0)}–${Math.max(...a).toFixed(0)}`;
      return {
        tables: [
          {
            title: `Append latency per step (${EVENTS_PER_STEP} events + durability barrier), ms, ${rounds} rounds × ${steps} steps`,
            header: ["store", "p50", "p99"],
            rows: [
              row("SqliteStore", lat.store),
              row("raw INSERT (1 txn/step)", lat.raw),
              ["ratio", `${ratio50.toFixed(2)}×`, `${ratio99.toFixed(2)}×`],
            ],
            notes: ["target: SqliteStore ≤ 1.5× raw, p99 ≤ 2 ms per step"],
          },
          {
            title: `Loop, ${calls} one-no-op-call turns, ${reps} repetitions (median; range), ms`,
            header: ["event log", "run ms", "range", "step p50 µs", "step p99 µs"],
            rows: [
              [
                "MemoryEventLog",
                median(mem).toFixed(0),
                spread(mem),
                (pct(ms, 50) * 1000).toFixed(0),
                (pct(ms, 99) * 1000).toFixed(0),
              ],
              [
                "SqliteStore",
                median(sql).toFixed(0),
                spread(sql),
                (pct(ss, 50) * 1000).toFixed(0),
                (pct(ss, 99) * 1000).toFixed(0),
              ],
              ["ratio", `${loopRatio.toFixed(2)}×`, "", "", ""],
              ["2 raw commits per step alone", median(floor).toFixed(0), spread(floor), "", ""],
              ["floor: memory + 2 raw commits/step", `${floorRatio.toFixed(2)}×`, "", "", ""],
            ],
            notes: [
              "target: within 2× of the in-memory log",
              "floor: what any store meeting the durability barrier pays (2 commits per step), over the in-memory loop",
            ],
          },
          ...redis.tables,
        ],
        json: {
          steps,
          calls,
          reps,
          latency: {
            storeP50: pct(lat.store, 50),
            storeP99: pct(lat.store, 99),
            rawP50: pct(lat.raw, 50),
            rawP99: pct(lat.raw, 99),
          },
          loop: {
            memoryMs: mem,
            sqliteMs: sql,
            floorMs: floor,
            ratio: loopRatio,
            floorRatio,
            stepUs: {
              memoryP50: pct(ms, 50) * 1000,
              memoryP99: pct(ms, 99) * 1000,
              sqliteP50: pct(ss, 50) * 1000,
              sqliteP99: pct(ss, 99) * 1000,
            },
          },
          redis: redis.json,
        },
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default bench;
