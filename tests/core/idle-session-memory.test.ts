import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { IdleSessionsReport } from "../../bench/many-sessions/idle-child.ts";
import { tempDir } from "../helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");

describe("what an idle session holds", () => {
  it("600 idle audited sessions (5 tool calls each, brought to idle 50 at a time) hold under 18 KB of heap each", () => {
    // bench/many-sessions/idle-child.ts in a fresh process: heapUsed after a memory-reducing gc with
    // the sessions idle (run, not closed), minus before, over the sessions. Heap bytes, not time:
    // the same under any load. Measured 16.6–16.7 KB (2026-11-30, three runs; 22.7 KB before the
    // event log kept its events by column); the bound leaves 1.3 KB (8%) for V8's own variation
    // (code, feedback vectors, hash-table growth steps) and fails if an idle session keeps again
    // its system prompt (1 KB) and one more such thing.
    const out = spawnSync(
      process.execPath,
      ["--expose-gc", "bench/many-sessions/idle-child.ts", "600", "5", "50", tempDir()],
      { cwd: ROOT, encoding: "utf8" },
    );
    if (out.status !== 0) throw new Error(`idle-child failed (${out.status}): ${out.stderr}`);
    const r = JSON.parse(out.stdout.trim().split("\n").at(-1)!) as IdleSessionsReport;
    expect(r.failures).toEqual([]);
    expect(r.sessions).toBe(600);
    expect(r.perSession.heapUsedBytes).toBeGreaterThan(0);
    expect(r.perSession.heapUsedBytes).toBeLessThan(18 * 1024);
  }, 180_000);
});
