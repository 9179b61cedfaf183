/**
 * state (issue 18): what durability costs, against baselines measured in the same run.
 * (1) One step's appends (6 events, then the durability barrier) on the SQLite store against a raw
 * `INSERT` of the same rows in one transaction on a file with the same pragmas: p50/p99 per step,
 * rounds alternating; target ≤ 1.5× raw and p99 ≤ 2 ms. (2) The loop at N one-no-op-call turns on
 * the SQLite store against the in-memory log (warm-up run each, then alternating repetitions; median
 * run time and p50/p99 per step); target within 2×. (3) What bounds (2): a step must be durable
 * twice (its journal before the tool runs, its results and the next reservation before the model
 * reads them), so the floor is the in-memory loop plus two raw commits per step, measured here too:
 * of 3 events each, and of the rows the SQLite store itself writes in a step (its 6 events as the loop
 * wrote them, the model call's reservation and its settlement: the same tables, the same statements
 * as SQL, no JavaScript around them). The store's cost per step over that second floor is what its
 * own code adds. Where the floor's ratio is above 2× (a commit on the disk costs more than an in-memory
 * step), no store that keeps both barriers can meet the target there. Every run is timed in wall ms and in CPU ms (`process.cpuUsage`: user + system, so a
 * loaded machine changes it less); the ratios are given for both.
 * (4) The same on the Redis store, against raw `XADD`s (bench/state-redis.ts; `--redis <url>`).
 * Flags: `--quick`, `--steps <n>` (default 5000), `--calls <n>` (default 2000), `--reps <n>` (default 5).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as rein from "../dist/index.js";
import { MIGRATIONS } from "../dist/state/sqlite-schema.js";
import type { Benchmark, BenchOptions, BenchOutput } from "./lib/bench.ts";
import { benchEvent, pct, storeLoop } from "./lib/state-loop.ts";
import { redisState } from "./state-redis.ts";

const EVENTS_PER_STEP = 6;
const ROUNDS = 3;

const sorted = (a: readonly number[]) => [...a].sort((x, y) => x - y);
const median = (a: readonly number[]) => pct(sorted(a), 50);
const tick = () => new Promise((r) => setImmediate(r));

/** A raw node:sqlite file with the store's pragmas and tables (its migrations): the baseline's writes. */
async function rawDb(file: string) {
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(file);
  db.exec(
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 4000; PRAGMA journal_size_limit = 33554432",
  );
  for (const m of MIGRATIONS) db.exec(m);
  const insert = db.prepare(
    "INSERT INTO events (tenant, session, first_seq, last_seq, body) VALUES (?, ?, ?, ?, ?)",
  );
  let seq = 0;
  return {
    /**
     * One transaction writing `n` events as the store lays them out (one row: their JSON array), then
     * the same one-tick yield the store's commit waits for.
     */
    async commit(n: number) {
      db.exec("BEGIN IMMEDIATE");
      const first = seq + 1;
      const bodies: string[] = [];
      for (let k = 0; k < n; k++) bodies.push(JSON.stringify(benchEvent("ses_a", ++seq)));
      insert.run("bench", "ses_a", first, seq, `[${bodies.join(",")}]`);
      db.exec("COMMIT");
      await tick();
    },
    insert,
    db,
    close: () => db.close(),
  };
}

/** One step's events as the loop wrote them on the SQLite store: from a `tool_call_finished` on. */
async function stepEvents(file: string): Promise<{ type: string; body: string }[]> {
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const rows = (db.prepare("SELECT body FROM events ORDER BY id").all() as { body: string }[])
      .flatMap((r) => JSON.parse(r.body) as { type: string }[])
      .map((e) => ({ type: e.type, body: JSON.stringify(e) }));
    const mid = rows.findIndex((r, i) => i > rows.length / 2 && r.type === "tool_call_finished");
    const step = rows.slice(mid, mid + EVENTS_PER_STEP);
    if (mid < 0 || step.length !== EVENTS_PER_STEP || step.at(-1)?.type !== "tool_call_started")
      throw new Error(`state bench: unexpected step shape ${JSON.stringify(step.map((r) => r.type))}`);
    return step;
  } finally {
    db.close();
  }
}

/**
 * The floor of the store's own writes: per step, the commits it makes, as raw SQL on its tables.
 * Commit 1 (the reservation's transaction): the last turn's result, the reservation, two accounts.
 * Commit 2 (the journal barrier): the other 5 events, the settlement (reservation deleted, two
 * accounts), then the tick the store's commit waits for.
 */
async function ownRowsFloor(file: string, calls: number, step: readonly { type: string; body: string }[]) {
  const raw = await rawDb(file);
  const { db, insert } = raw;
  const first = `[${step[0]!.body}]`;
  const rest = `[${step
    .slice(1)
    .map((e) => e.body)
    .join(",")}]`;
  const reserve = db.prepare(
    "INSERT INTO reservations (tenant, session, key, model, est_usd, est_tokens, budgets, opened) VALUES ('bench', 'ses_a', ?, 'bench:model', 0.01, 100, '[]', ?)",
  );
  const settle = db.prepare(
    "DELETE FROM reservations WHERE tenant = 'bench' AND session = 'ses_a' AND key = ?",
  );
  const account = db.prepare(
    "UPDATE accounts SET cost = cost + ?, tokens = tokens + ?, reserved_usd = reserved_usd + ?, open = open + ? WHERE id = ?",
  );
  const ids = [JSON.stringify(["s", "bench", "ses_a"]), JSON.stringify(["t", "bench"])];
  for (const id of ids) db.prepare("INSERT INTO accounts (id) VALUES (?)").run(id);
  const begin = db.prepare("BEGIN IMMEDIATE");
  const commit = db.prepare("COMMIT");
  let seq = 0;
  const c = process.cpuUsage();
  const t = performance.now();
  for (let s = 0; s < calls; s++) {
    const key = `run_bench:${s}`;
    begin.run();
    insert.run("bench", "ses_a", ++seq, seq, first);
    reserve.run(key, s);
    for (const id of ids) account.run(0, 0, 0.01, 1, id);
    commit.run();
    begin.run();
    insert.run("bench", "ses_a", seq + 1, seq + step.length - 1, rest);
    seq += step.length - 1;
    settle.run(key);
    for (const id of ids) account.run(0.001, 2, -0.01, -1, id);
    commit.run();
    await tick();
  }
  const ms = performance.now() - t;
  const cpu = cpuMs(c);
  raw.close();
  return { ms, cpu };
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

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
async function floorRun(file: string, calls: number): Promise<{ ms: number; cpu: number }> {
  const db = await rawDb(file);
  const c = process.cpuUsage();
  const t = performance.now();
  for (let s = 0; s < calls; s++) {
    await db.commit(EVENTS_PER_STEP / 2);
    await db.commit(EVENTS_PER_STEP / 2);
  }
  const ms = performance.now() - t;
  const cpu = cpuMs(c);
  db.close();
  return { ms, cpu };
}

/** One run of `calls` turns on a SQLite store at `file` (the in-memory log when undefined). */
async function loop(
  file: string | undefined,
  calls: number,
): Promise<{ ms: number; cpu: number; steps: number[] }> {
  const store = file ? await rein.SqliteStore.open(file) : undefined;
  try {
    const c = process.cpuUsage();
    const run = await storeLoop(calls, store);
    return { ...run, cpu: cpuMs(c) };
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

      options.log(`loop: ${calls} calls, a warm-up run each, then ${reps} × (memory, SQLite, floors)`);
      await loop(undefined, calls);
      const warm = file("warm");
      await loop(warm, calls);
      const step = await stepEvents(warm);
      type Run = { ms: number; cpu: number };
      const mem: Run[] = [];
      const sql: Run[] = [];
      const floor: Run[] = [];
      const own: Run[] = [];
      const memSteps: number[] = [];
      const sqlSteps: number[] = [];
      for (let r = 0; r < reps; r++) {
        const m = await loop(undefined, calls);
        mem.push(m);
        memSteps.push(...m.steps);
        const q = await loop(file("loop"), calls);
        sql.push(q);
        sqlSteps.push(...q.steps);
        floor.push(await floorRun(file("floor"), calls));
        own.push(await ownRowsFloor(file("own"), calls, step));
      }
      const med = (a: Run[], k: keyof Run) => median(a.map((x) => x[k]));
      const ratio = (k: keyof Run) => med(sql, k) / med(mem, k);
      const floorRatio = (f: Run[], k: keyof Run) => (med(mem, k) + med(f, k)) / med(mem, k);
      const perStep = (a: Run[], k: keyof Run) => ((med(a, k) * 1000) / calls).toFixed(0);
      const loopRatio = ratio("ms");
      const ms = sorted(memSteps);
      const ss = sorted(sqlSteps);
      const redis = await redisState(options, steps, calls);
      const spread = (a: Run[]) =>
        `${Math.min(...a.map((x) => x.ms)).toFixed(0)}–${Math.max(...a.map((x) => x.ms)).toFixed(0)}`;
      const line = (name: string, a: Run[], p50 = "", p99 = "") => [
        name,
        med(a, "ms").toFixed(0),
        spread(a),
        med(a, "cpu").toFixed(0),
        perStep(a, "cpu"),
        p50,
        p99,
      ];
      const us = (a: number[], p: number) => (pct(a, p) * 1000).toFixed(0);
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
            header: ["event log", "run ms", "range", "cpu ms", "cpu µs/step", "step p50 µs", "step p99 µs"],
            rows: [
              line("MemoryEventLog", mem, us(ms, 50), us(ms, 99)),
              line("SqliteStore", sql, us(ss, 50), us(ss, 99)),
              [
                "ratio (wall; cpu)",
                `${loopRatio.toFixed(2)}×`,
                "",
                `${ratio("cpu").toFixed(2)}×`,
                "",
                "",
                "",
              ],
              line("2 raw commits/step, 3 events each", floor),
              [
                "floor: memory + those",
                `${floorRatio(floor, "ms").toFixed(2)}×`,
                "",
                `${floorRatio(floor, "cpu").toFixed(2)}×`,
                "",
                "",
                "",
              ],
              line("2 raw commits/step, the store's own rows", own),
              [
                "floor: memory + those",
                `${floorRatio(own, "ms").toFixed(2)}×`,
                "",
                `${floorRatio(own, "cpu").toFixed(2)}×`,
                "",
                "",
                "",
              ],
              [
                "SqliteStore over memory + own-rows floor, µs/step (wall; cpu)",
                (((med(sql, "ms") - med(mem, "ms") - med(own, "ms")) * 1000) / calls).toFixed(0),
                "",
                (((med(sql, "cpu") - med(mem, "cpu") - med(own, "cpu")) * 1000) / calls).toFixed(0),
                "",
                "",
                "",
              ],
            ],
            notes: [
              "target: within 2× of the in-memory log",
              "floor: what any store meeting the two durability barriers pays (2 commits per step), over the in-memory loop",
              "own rows: the SQLite store's step as raw SQL on its tables (2 log rows holding the 6 events as the loop wrote them, already serialised; a reservation, its settlement, 2 accounts twice); what the store costs beyond it is its own code (serialising the events included)",
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
            memoryMs: mem.map((x) => x.ms),
            sqliteMs: sql.map((x) => x.ms),
            floorMs: floor.map((x) => x.ms),
            ownRowsFloorMs: own.map((x) => x.ms),
            memoryCpuMs: mem.map((x) => x.cpu),
            sqliteCpuMs: sql.map((x) => x.cpu),
            floorCpuMs: floor.map((x) => x.cpu),
            ownRowsFloorCpuMs: own.map((x) => x.cpu),
            ratio: loopRatio,
            cpuRatio: ratio("cpu"),
            floorRatio: floorRatio(floor, "ms"),
            ownRowsFloorRatio: floorRatio(own, "ms"),
            ownRowsFloorCpuRatio: floorRatio(own, "cpu"),
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
