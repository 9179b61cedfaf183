import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { IdleSessionsReport } from "../../bench/many-sessions/idle-child.ts";
import { tempDir } from "../helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");

describe("what an idle session holds", () => {
  it("600 idle audited sessions (5 tool calls each, brought to idle 50 at a time) hold under 12.25 KB of objects each", () => {
    // bench/many-sessions/idle-child.ts in a fresh process: the heap after a memory-reducing gc with
    // the sessions idle (run, not closed), minus before, over the sessions. Heap bytes, not time:
    // the same under any load. objectHeapBytes leaves out the code and trusted spaces (machine code,
    // bytecode), whose size follows the compiler threads' and bytecode flushing's timing.
    // Measured 2026-11-30, five runs: objects 11,894–11,908 B (heapUsed 11.54–11.61 KB; 16.6–16.7
    // KB before this round's cuts: decided stage lists shared, exact-size content and columns, the
    // audit trail's idle fields). The bound leaves 350 B (3%) for V8's hash-table growth steps (a
    // weak table's size depends on when dead keys were swept: ~30 B here) and a longer temp path (the
    // audit file's path is kept in ~3 strings), and fails if a decided call's stage list (184 B per
    // call) or the trail's seal line (~450 B) is kept per session again.
    const out = spawnSync(
      process.execPath,
      ["--expose-gc", "bench/many-sessions/idle-child.ts", "600", "5", "50", tempDir()],
      { cwd: ROOT, encoding: "utf8" },
    );
    if (out.status !== 0) throw new Error(`idle-child failed (${out.status}): ${out.stderr}`);
    const r = JSON.parse(out.stdout.trim().split("\n").at(-1)!) as IdleSessionsReport;
    expect(r.failures).toEqual([]);
    expect(r.sessions).toBe(600);
    expect(r.perSession.objectHeapBytes).toBeGreaterThan(0);
    expect(r.perSession.objectHeapBytes).toBeLessThan(12.25 * 1024);
    // heapUsed with code and bytecode: their share moved -0.35 KB per session in these runs (bytecode
    // of the warm-up flushed); 1.4 KB of room for the compiler's timing.
    expect(r.perSession.heapUsedBytes).toBeLessThan(13 * 1024);
  }, 180_000);
});
