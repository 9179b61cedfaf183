/**
 * state (issue 18): what durability costs. (1) One step's appends (6 events, then the durability
 * barrier) on the SQLite store against a raw `INSERT` of the same rows in one transaction on the
 * same file, in the same run: p50/p99 per step; target ≤ 1.5× raw and p99 ≤ 2 ms. (2) The loop at
 * N one-no-op-call turns on the SQLite store against the in-memory log; target within 2×. (3) The
 * same two on the Redis store, against raw `XADD`s (bench/state-redis.ts; `--redis <url>`).
 * Flags: `--quick`, `--steps <n>` (default 5000), `--calls <n>` (default 2000).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Model } from "../dist/index.js";
import * as rein from "../dist/index.js";
import type { Benchmark, BenchOptions, BenchOutput } from "./lib/bench.ts";
import { redisState } from "./state-redis.ts";

const EVENTS_PER_STEP = 6;

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

function event(sessionId: string, seq: number) {
  return {
    v: 1,
    seq,
    sessionId,
    tenantId: "bench",
    runId: "run_bench",
    ts: Date.now(),
    type: "tool_call_finished",
    data: {
      turn: seq,
      callId: `c${seq}`,
      tool: "noop",
      executed: true,
      ok: true,
      errorType: null,
      content: "ok",
      truncated: false,
      durationMs: 0.1,
      stages: [],
    },
  } as never;
}

async function appendLatency(dir: string, steps: number) {
  const store = await rein.SqliteStore.open(join(dir, "store.db"));
  const storeMs: number[] = [];
  let seq = 0;
  for (let s = 0; s < steps; s++) {
    const t = performance.now();
    for (let k = 0; k < EVENTS_PER_STEP; k++) store.eventLog.append(event("ses_a", ++seq));
    await store.eventLog.sync?.();
    storeMs.push(performance.now() - t);
  }
  await store.close();
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(join(dir, "raw.db"));
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  db.exec(
    "CREATE TABLE events (tenant TEXT, session TEXT, seq INTEGER, type TEXT, body TEXT, PRIMARY KEY (tenant, session, seq)) WITHOUT ROWID",
  );
  const insert = db.prepare("INSERT INTO events VALUES (?, ?, ?, ?, ?)");
  const rawMs: number[] = [];
  seq = 0;
  for (let s = 0; s < steps; s++) {
    const t = performance.now();
    db.exec("BEGIN IMMEDIATE");
    for (let k = 0; k < EVENTS_PER_STEP; k++) {
      const e = event("ses_a", ++seq) as { seq: number };
      insert.run("bench", "ses_a", e.seq, "tool_call_finished", JSON.stringify(e));
    }
    db.exec("COMMIT");
    // The same yield the store's commit waits for (one tick), so both sides pay it.
    await new Promise((r) => setImmediate(r));
    rawMs.push(performance.now() - t);
  }
  db.close();
  const sort = (a: number[]) => [...a].sort((x, y) => x - y);
  return { store: sort(storeMs), raw: sort(rawMs) };
}

function noopModel(calls: number): Model {
  return {
    id: "bench:model",
    async generate(req) {
      const turns = req.messages.filter((m) => m.role === "assistant").length;
      const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 };
      if (turns >= calls)
        return {
          content: [{ type: "text", text: "done" }],
          stopReason: "end_turn",
          usage,
          model: "bench:model",
        };
      return {
        content: [{ type: "tool_use", id: `c${turns}`, name: "noop", input: {} }],
        stopReason: "tool_use",
        usage,
        model: "bench:model",
      };
    },
  };
}

async function loop(dir: string, calls: number, durable: boolean): Promise<number> {
  const { z } = await import("zod");
  const tool = rein.defineTool({
    name: "noop",
    description: "no-op",
    input: z.object({}),
    risk: { level: "LOW", reason: "none" },
    execute: async () => "ok",
  });
  const store = durable ? await rein.SqliteStore.open(join(dir, `loop-${Date.now()}.db`)) : undefined;
  const harness = rein.createHarness({
    model: noopModel(calls),
    tools: [tool],
    builtinTools: false,
    audit: false,
    limits: { maxTurns: calls + 10 },
    pricing: { overrides: { "bench:model": { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 } } },
    ...(store ? { store } : {}),
  });
  const t = performance.now();
  const session = harness.session();
  await session.run("go");
  await session.close();
  const ms = performance.now() - t;
  await store?.close();
  return ms;
}

const bench: Benchmark = {
  name: "state",
  description:
    "SQLite and Redis stores: append latency vs raw INSERT / XADD, loop at N on SQLite and Redis vs memory",
  async run(options: BenchOptions): Promise<BenchOutput> {
    const steps = Number(options.flags.steps ?? (options.quick ? 1000 : 5000));
    const calls = Number(options.flags.calls ?? (options.quick ? 500 : 2000));
    const dir = mkdtempSync(join(tmpdir(), "rein-bench-state-"));
    try {
      options.log(`append latency: ${steps} steps of ${EVENTS_PER_STEP} events`);
      const lat = await appendLatency(dir, steps);
      const row = (name: string, a: number[]) => [name, pct(a, 50).toFixed(3), pct(a, 99).toFixed(3)];
      const ratio50 = pct(lat.store, 50) / pct(lat.raw, 50);
      const ratio99 = pct(lat.store, 99) / pct(lat.raw, 99);
      options.log(`loop: ${calls} calls, memory then SQLite, 3 alternations`);
      const mem: number[] = [];
      const sql: number[] = [];
      for (let r = 0; r < 3; r++) {
        mem.push(await loop(dir, calls, false));
        sql.push(await loop(dir, calls, true));
      }
      const med = (a: number[]) => [...a].sort((x, y) => x - y)[1]!;
      const loopRatio = med(sql) / med(mem);
      const redis = await redisState(options, steps, calls);
      return {
        tables: [
          {
            title: `Append latency per step (${EVENTS_PER_STEP} events + durability barrier), ms`,
            header: ["store", "p50", "p99"],
            rows: [
              row("SqliteStore", lat.store),
              row("raw INSERT (1 txn/step)", lat.raw),
              ["ratio", `${ratio50.toFixed(2)}×`, `${ratio99.toFixed(2)}×`],
            ],
            notes: ["target: SqliteStore ≤ 1.5× raw, p99 ≤ 2 ms per step"],
          },
          {
            title: `Loop, ${calls} one-no-op-call turns (median of 3), ms`,
            header: ["event log", "total ms", "per call µs"],
            rows: [
              ["MemoryEventLog", med(mem).toFixed(0), ((med(mem) * 1000) / calls).toFixed(1)],
              ["SqliteStore", med(sql).toFixed(0), ((med(sql) * 1000) / calls).toFixed(1)],
              ["ratio", `${loopRatio.toFixed(2)}×`, ""],
            ],
            notes: ["target: within 2× of the in-memory log"],
          },
          ...redis.tables,
        ],
        json: {
          steps,
          calls,
          latency: {
            storeP50: pct(lat.store, 50),
            storeP99: pct(lat.store, 99),
            rawP50: pct(lat.raw, 50),
            rawP99: pct(lat.raw, 99),
          },
          loop: { memoryMs: mem, sqliteMs: sql, ratio: loopRatio },
          redis: redis.json,
        },
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default bench;
