import fs, { readFileSync, writeFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createHarness, defineTool, verifyAuditFile } from "../../src/index.js";
import { scriptedModel } from "../../src/testing.js";
import { tempDir } from "../helpers.js";

/** The synchronous file calls the audit trail used to make per session and per run. */
const SYNC_CALLS = [
  "openSync",
  "closeSync",
  "fstatSync",
  "lstatSync",
  "statSync",
  "readSync",
  "readFileSync",
  "writeFileSync",
  "linkSync",
  "unlinkSync",
  "renameSync",
  "readlinkSync",
  "realpathSync",
  "mkdirSync",
] as const;

const originals = new Map<string, unknown>();

/** Counts calls of the synchronous file functions, in this module and every ESM importer of node:fs. */
function countSyncCalls(): Map<string, number> {
  const counts = new Map<string, number>();
  const target = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of SYNC_CALLS) {
    const original = target[name]!;
    originals.set(name, original);
    target[name] = (...args: unknown[]) => {
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return original(...args);
    };
  }
  syncBuiltinESMExports();
  return counts;
}

afterEach(() => {
  const target = fs as unknown as Record<string, unknown>;
  for (const [name, original] of originals) target[name] = original;
  originals.clear();
  syncBuiltinESMExports();
});

const act = defineTool({
  name: "act",
  description: "changes something (not read-only: each call gets an intent record)",
  input: z.object({}),
  risk: { level: "LOW", reason: "test" },
  execute: () => "ok",
});

function harness(dir: string) {
  return createHarness({
    model: scriptedModel({
      name: "m",
      turns: [{ tool_calls: [{ tool: "act", input: {} }], repeat: 3 }, { say: "done" }],
    }),
    tools: [act],
    audit: { dir },
    limits: { maxTurns: 4 },
  });
}

describe("the audit trail opens off the event loop", () => {
  it("sessions with generated ids make no synchronous file call: not when created, not when a run starts, not per tool call, not on close", async () => {
    const dir = join(tempDir(), "audit");
    const h = harness(dir);
    // The first session makes and resolves the audit folder (once per harness).
    const first = h.session();
    await first.run("warm up");
    await first.close();

    const counts = countSyncCalls();
    const sessions = Array.from({ length: 20 }, () => h.session());
    const results = await Promise.all(sessions.map((s) => s.run("go")));
    await Promise.all(sessions.map((s) => s.close()));
    const calls = Object.fromEntries(counts);
    for (const r of results) expect(r).toMatchObject({ status: "completed", toolCalls: 3 });
    expect(calls).toEqual({});
    for (const s of sessions) {
      expect(verifyAuditFile(h.auditFile(s.id)!)).toMatchObject({ ok: true, status: "sealed", records: 3 });
      expect(fs.existsSync(`${h.auditFile(s.id)!}.lock`)).toBe(false);
    }
  });

  it("the probe can fail: a session opened with a chosen id checks its file synchronously when it is created", () => {
    const h = harness(join(tempDir(), "audit"));
    const counts = countSyncCalls();
    h.session({ id: "ses_chosen" });
    expect(counts.get("lstatSync")).toBeGreaterThan(0);
  });

  it("a file planted where a generated id's trail goes is refused when the run starts (REIN_AUDIT_INVALID), before any tool runs", async () => {
    const dir = join(tempDir(), "audit");
    let ran = 0;
    const tool = defineTool({
      name: "act",
      description: "counts",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      execute: () => {
        ran++;
        return "ok";
      },
    });
    const h = createHarness({
      model: scriptedModel({
        name: "m",
        turns: [{ tool_calls: [{ tool: "act", input: {} }] }, { say: "done" }],
      }),
      tools: [tool],
      audit: { dir },
    });
    const warm = h.session();
    await warm.run("make the folder");
    await warm.close();
    ran = 0;
    const s = h.session();
    // Someone writes the file between the session's creation and its run.
    writeFileSync(h.auditFile(s.id)!, '{"planted":true}\n');
    const r = await s.run("go");
    expect(r.stopReason).toMatchObject({ type: "error", code: "REIN_AUDIT_INVALID" });
    expect(r.toolCalls).toBe(0);
    expect(ran).toBe(0);
    expect(readFileSync(h.auditFile(s.id)!, "utf8")).toBe('{"planted":true}\n');
    await s.close().catch(() => {});
    expect(fs.existsSync(`${h.auditFile(s.id)!}.lock`)).toBe(false);
  });
});
