/**
 * state (issue 18): what durability costs, against baselines measured in the same run.
 * (1) One step's appends (6 events, then the durability barrier) on the SQLite store against a raw
 * `INSERT` of the same rows in one transaction on a file with the same pragmas: p50/p99 per step,
 * rounds alternating; target ≤ 1.5× raw and p99 ≤ 2 ms. (2) The loop at N one-no-op-call turns on
 * the SQLite store against the in-memory log (warm-up run each, then alternating repetitions; median
 * run time and p50/p99 per step); target within 2×. (3) What bounds (2) (bench/state-floors.ts): a
 * step must be durable twice (its journal before the tool runs, its results and the next
 * reservation before the model reads them). The floors replay a step's writes as raw SQL with no
 * store code around them, in the same run: a bare WAL commit; the step's events only (the least the
 * history of record costs); the events and the ledger's rows in the fewest trees; the SQLite store's
 * own rows on its own tables; also as one commit per step, with `locking_mode = EXCLUSIVE` and with
 * other page sizes, and whether each setting leaves the file usable by other processes. A floor's
 * ratio is (memory loop + floor) / memory loop: where the least a store keeping both barriers must
 * write is above 2×, no such store meets the target on this machine. WAL frames per step are counted
 * for every floor and for the store itself. Every run is timed in wall and in CPU time
 * (`process.cpuUsage`: user + system, so a loaded machine changes it less); ratios are given for both.
 * (4) The same on the Redis store, against raw `XADD`s (bench/state-redis.ts; `--redis <url>`).
 * Flags: `--quick`, `--steps <n>` (default 5000), `--calls <n>` (default 2000), `--reps <n>` (default 5).
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as rein from "../dist/index.js";
import { MIGRATIONS } from "../dist/state/sqlite-schema.js";
import { PAGE_SIZE } from "../dist/state/sqlite-store.js";
import type { Benchmark, BenchOptions, BenchOutput } from "./lib/bench.ts";
import { benchEvent, pct, storeLoop } from "./lib/state-loop.ts";
import { FLOOR_VARIANTS, measureFloors, type StepRows } from "./state-floors.ts";
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
  db.exec(`PRAGMA page_size = ${PAGE_SIZE}`);
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

/** One step's rows as the loop wrote them on the SQLite store: from a `tool_call_finished` on. */
async function stepRows(file: string): Promise<StepRows> {
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const rows = (db.prepare("SELECT body FROM events ORDER BY id").all() as { body: string }[])
      .flatMap((r) => JSON.parse(r.body) as { type: string; seq: number }[])
      .map((e) => ({ type: e.type, seq: e.seq, body: JSON.stringify(e) }));
    const mid = rows.findIndex((r, i) => i > rows.length / 2 && r.type === "tool_call_finished");
    const step = rows.slice(mid, mid + EVENTS_PER_STEP);
    if (mid < 0 || step.length !== EVENTS_PER_STEP || step.at(-1)?.type !== "tool_call_started")
      throw new Error(`state bench: unexpected step shape ${JSON.stringify(step.map((r) => r.type))}`);
    const [results, ...journal] = step as [(typeof step)[0], ...typeof step];
    return {
      results: { first: results.seq, last: results.seq, body: `[${results.body}]` },
      journal: {
        first: journal[0]!.seq,
        last: journal.at(-1)!.seq,
        body: `[${journal.map((e) => e.body).join(",")}]`,
      },
    };
  } finally {
    db.close();
  }
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

/**
 * WAL frames per step the SQLite store writes in the loop: its WAL's growth over `calls` turns (few
 * enough that no checkpoint runs: 4,000 frames), measured before the store closes (which checkpoints).
 */
async function storeFrames(file: string, calls: number): Promise<number> {
  const store = await rein.SqliteStore.open(file);
  try {
    const before = statSync(`${file}-wal`).size;
    await storeLoop(calls, store);
    return (statSync(`${file}-wal`).size - before) / (PAGE_SIZE + 24) / calls;
  } finally {
    await store.close();
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

      options.log(`loop: ${calls} calls, a warm-up run each, then ${reps} × (memory, SQLite)`);
      await loop(undefined, calls);
      const warm = file("warm");
      await loop(warm, calls);
      const rows = await stepRows(warm);
      type Run = { ms: number; cpu: number };
      const mem: Run[] = [];
      const sql: Run[] = [];
      const memSteps: number[] = [];
      const sqlSteps: number[] = [];
      for (let r = 0; r < reps; r++) {
        const m = await loop(undefined, calls);
        mem.push(m);
        memSteps.push(...m.steps);
        const q = await loop(file("loop"), calls);
        sql.push(q);
        sqlSteps.push(...q.steps);
      }
      options.log(`floors: ${FLOOR_VARIANTS.length} variants × ${reps} runs of ${calls} steps`);
      const floors = await measureFloors(dir, rows, calls, reps);
      const frames = await storeFrames(file("frames"), Math.min(calls, 250));
      const med = (a: Run[], k: keyof Run) => median(a.map((x) => x[k]));
      const ratio = (k: keyof Run) => med(sql, k) / med(mem, k);
      // Per step, µs: CPU and wall.
      const memCpu = (med(mem, "cpu") * 1000) / calls;
      const memWall = (med(mem, "ms") * 1000) / calls;
      const sqlCpu = (med(sql, "cpu") * 1000) / calls;
      const sqlWall = (med(sql, "ms") * 1000) / calls;
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
        ((med(a, "cpu") * 1000) / calls).toFixed(0),
        p50,
        p99,
      ];
      const us = (a: number[], p: number) => (pct(a, p) * 1000).toFixed(0);
      const storeFloor = floors.find(
        (f) => f.variant.layout === "store" && f.variant.name === "store rows, 2 commits",
      );
      const floorRows = floors.map((f) => {
        const cpu = median(f.cpuUs);
        const wall = median(f.wallUs);
        return [
          f.variant.name,
          cpu.toFixed(1),
          wall.toFixed(1),
          f.framesPerStep.toFixed(2),
          `${((memCpu + cpu) / memCpu).toFixed(2)}×`,
          `${((memWall + wall) / memWall).toFixed(2)}×`,
          f.shared ? "yes" : "no",
        ];
      });
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
              [
                `SqliteStore: ${frames.toFixed(2)} WAL frames (${(frames / 2).toFixed(2)} pages per commit) per step; over memory + the store-rows floor, µs/step (wall; cpu)`,
                storeFloor ? (sqlWall - memWall - median(storeFloor.wallUs)).toFixed(0) : "",
                "",
                storeFloor ? (sqlCpu - memCpu - median(storeFloor.cpuUs)).toFixed(0) : "",
              ],
            ],
            notes: ["target: within 2× of the in-memory log"],
          },
          {
            title: `Floors: a step's durable writes as raw SQL (no store code), ${reps} runs of ${calls} steps (median), µs per step`,
            header: ["floor", "cpu µs", "wall µs", "WAL frames", "ratio cpu", "ratio wall", "shared"],
            rows: floorRows,
            notes: [
              "ratio: (memory loop + floor) / memory loop, per step; above 2×, no store writing that much per step meets the target here",
              "bare: one 8-byte row per commit (a WAL commit's own price); log: the step's events as the loop wrote them, one row per commit, rowid-keyed (no index);",
              "log+ledger: log plus a reservation (inserted, then deleted) and two accounts, in one tree; store rows: the SQLite store's own tables and statements",
              "shared: a second connection can read and write the file meanwhile (approvals decided from another process, processes sharing one budget need it)",
              `floors without a page size use the store's (${PAGE_SIZE}), which applies to files it creates (WAL mode cannot change an existing file's page size: older files keep 4096)`,
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
            memoryCpuMs: mem.map((x) => x.cpu),
            sqliteCpuMs: sql.map((x) => x.cpu),
            ratio: loopRatio,
            cpuRatio: ratio("cpu"),
            sqliteFramesPerStep: frames,
            stepUs: {
              memoryP50: pct(ms, 50) * 1000,
              memoryP99: pct(ms, 99) * 1000,
              sqliteP50: pct(ss, 50) * 1000,
              sqliteP99: pct(ss, 99) * 1000,
            },
          },
          floors: floors.map((f) => ({
            ...f.variant,
            cpuUs: f.cpuUs,
            wallUs: f.wallUs,
            framesPerStep: f.framesPerStep,
            shared: f.shared,
            cpuRatio: (memCpu + median(f.cpuUs)) / memCpu,
            wallRatio: (memWall + median(f.wallUs)) / memWall,
          })),
          redis: redis.json,
        },
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default bench;
