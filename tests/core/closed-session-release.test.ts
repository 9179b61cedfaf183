import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");

/**
 * Runs `body` in a fresh `node --expose-gc` (the test workers have no gc()); `body` prints one JSON line.
 * Collection is observed through WeakRefs after gc() between event-loop turns (V8 keeps a WeakRef's
 * target alive until the job that made it ends): a count of turns, never a wait on the clock.
 */
function inFreshProcess(body: string) {
  const script = `
import { createHarness, defineTool, MemoryEventLog } from ${JSON.stringify(join(ROOT, "dist", "index.js"))};
import { scriptedModel } from ${JSON.stringify(join(ROOT, "dist", "testing.js"))};
import { z } from "zod";
const turn = () => new Promise((r) => setImmediate(r));
async function collected(refs) {
  for (let i = 0; i < 50 && refs.some((r) => r.deref() !== undefined); i++) { await turn(); globalThis.gc(); }
  return refs.map((r) => r.deref() === undefined);
}
const act = defineTool({ name: "act", description: "acts", input: z.object({}),
  risk: { level: "LOW", reason: "test" }, execute: () => "x".repeat(2000) });
const model = () => scriptedModel({ name: "m", turns: [{ tool_calls: [{ tool: "act", input: {} }], repeat: 3 }, { say: "done" }] });
${body}`;
  const out = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
    cwd: ROOT,
    env: { ...process.env, WORK: tempDir() },
    encoding: "utf8",
  });
  if (out.status !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout.trim().split("\n").at(-1)!);
}

describe("a closed session is released", () => {
  it("after close(), nothing of the session stays reachable: the session, its audit trail, its history, its events (trail on disk and in memory)", () => {
    const r = inFreshProcess(`
const results = {};
for (const audit of [{ dir: process.env.WORK + "/audit" }, "memory"]) {
  // No closed session is retained by the event log: what stays after close() is a leak, not a cache.
  const h = createHarness({ model: model(), tools: [act], audit, eventLog: new MemoryEventLog({ retainClosedSessions: 0 }) });
  const refs = [];
  let id;
  await (async () => {
    const s = h.session();
    id = s.id;
    const result = await s.run("go");
    if (result.status !== "completed" || result.toolCalls !== 3) throw new Error(JSON.stringify(result.stopReason));
    refs.push(new WeakRef(s), new WeakRef(h.auditTrail(s.id)), new WeakRef(result.messages), new WeakRef(h.eventLog.read({ tenantId: "local", sessionId: s.id }, 0)[0].data));
    await s.close();
  })();
  const gone = await collected(refs);
  results[audit === "memory" ? "memory" : "file"] = {
    gone,
    trailLookup: h.auditTrail(id) === undefined,
    events: h.eventLog.read({ tenantId: "local", sessionId: id }, 0).length,
    ledger: h.ledger.totals({ tenantId: "local", sessionId: id }).costUsd,
  };
}
process.stdout.write(JSON.stringify(results));
`);
    for (const kind of ["file", "memory"]) {
      // session, audit trail, history, first event's data (the log keeps data by reference; read()
      // builds new envelopes, so the data is what the log would leak)
      expect(r[kind].gone, kind).toEqual([true, true, true, true]);
      expect(r[kind].trailLookup, kind).toBe(true);
      expect(r[kind].events, kind).toBe(0);
    }
  }, 60_000);

  it("the probe can fail: a session still referenced after close() is reported as kept", () => {
    const r = inFreshProcess(`
const h = createHarness({ model: model(), tools: [act], audit: "memory" });
const kept = [];
const s = h.session();
await s.run("go");
await s.close();
kept.push(s);
const gone = await collected([new WeakRef(s), new WeakRef(h.auditTrail(s.id))]);
process.stdout.write(JSON.stringify({ gone, kept: kept.length }));
`);
    expect(r.gone).toEqual([false, false]);
  }, 60_000);
});
