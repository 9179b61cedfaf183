import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AuditTrail, createHarness, defineTool, type ReinEvent, verifyAuditFile } from "../../src/index.js";
import { scriptedModel } from "../../src/testing.js";
import { tempDir } from "../helpers.js";

/** The events of one tool call, as the loop emits them, with a fresh `seq`. */
function events() {
  let seq = 0;
  const event = (type: string, data: unknown) =>
    ({
      v: 1,
      seq: ++seq,
      sessionId: "ses_one",
      runId: "run_one",
      tenantId: "default",
      ts: 1_700_000_000_000 + seq,
      type,
      data,
    }) as unknown as ReinEvent;
  const risk = { level: "LOW", reason: "test", rule: "test" };
  return {
    event,
    call: (turn: number) => {
      const callId = `call_${turn}`;
      return {
        requested: event("tool_call_requested", { turn, callId, tool: "act", input: { n: turn } }),
        decided: event("tool_call_decided", {
          turn,
          callId,
          tool: "act",
          verdict: "allow",
          risk,
          approval: null,
          stages: [],
        }),
        started: event("tool_call_started", {
          turn,
          callId,
          tool: "act",
          idempotencyKey: callId,
          input: { n: turn },
        }),
        finished: event("tool_call_finished", {
          turn,
          callId,
          tool: "act",
          executed: true,
          ok: true,
          errorType: null,
          content: "done",
          truncated: false,
          durationMs: 1,
          stages: [],
        }),
      };
    },
  };
}

const kinds = (file: string) =>
  readFileSync(file, "utf8")
    .trimEnd()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const r = JSON.parse(line) as { kind: string; callId?: string };
      return r.callId ? `${r.kind}:${r.callId}` : r.kind;
    });

describe("the audit trail writes once per call: a finished call's record rides the next barrier's write", () => {
  it("the intent is written before sync() resolves; the call's record goes with the next intent, in order, and the seal writes the rest", async () => {
    const file = join(tempDir(), "trail.jsonl");
    const trail = new AuditTrail(file);
    const { event, call } = events();
    trail.handle(event("run_started", { task: "t", limits: {} }));
    await trail.ready();

    const first = call(1);
    trail.handle(first.requested);
    trail.handle(first.decided);
    trail.handle(first.started);
    await trail.sync(); // the loop's barrier before the tool runs
    expect(kinds(file)).toEqual(["intent:call_1"]);
    trail.handle(first.finished);
    await trail.sync(); // the barrier before the results reach the model: the record is not waited for
    expect(kinds(file)).toEqual(["intent:call_1"]);

    const second = call(2);
    trail.handle(second.requested);
    trail.handle(second.decided);
    trail.handle(second.started);
    await trail.sync(); // before the second call runs, the first call's record is in the file
    expect(kinds(file)).toEqual(["intent:call_1", "tool_call:call_1", "intent:call_2"]);
    trail.handle(second.finished);

    trail.handle(event("run_ended", { status: "completed" }));
    await trail.sync();
    expect(kinds(file)).toEqual([
      "intent:call_1",
      "tool_call:call_1",
      "intent:call_2",
      "tool_call:call_2",
      "seal",
    ]);
    expect(verifyAuditFile(file).status).toBe("sealed");
  });

  it("a read-only call gets no intent, yet does not start before the previous call's record is written", async () => {
    const file = join(tempDir(), "trail.jsonl");
    const trail = new AuditTrail(file, { intentFor: (tool) => tool !== "look" });
    const { event, call } = events();
    trail.handle(event("run_started", { task: "t", limits: {} }));
    await trail.ready();
    const act = call(1);
    for (const e of [act.requested, act.decided, act.started]) trail.handle(e);
    await trail.sync();
    trail.handle(act.finished);
    await trail.sync();
    expect(kinds(file)).toEqual(["intent:call_1"]);
    const look = call(2);
    for (const e of [look.requested, look.decided, look.started])
      trail.handle({ ...e, data: { ...(e.data as object), tool: "look" } } as ReinEvent);
    await trail.sync(); // the barrier before the read-only call runs
    expect(kinds(file)).toEqual(["intent:call_1", "tool_call:call_1"]);
    await trail.close();
  });

  it("a record left waiting is written when the trail closes without a seal", async () => {
    const file = join(tempDir(), "trail.jsonl");
    const trail = new AuditTrail(file);
    const { event, call } = events();
    trail.handle(event("run_started", { task: "t", limits: {} }));
    await trail.ready();
    const only = call(1);
    for (const e of [only.requested, only.decided, only.started]) trail.handle(e);
    await trail.sync();
    trail.handle(only.finished);
    await trail.close();
    expect(kinds(file)).toEqual(["intent:call_1", "tool_call:call_1"]);
  });

  it("a whole run: every executed call has its intent and its record, in order, sealed when run() resolves", async () => {
    const dir = tempDir();
    const act = defineTool({
      name: "act",
      description: "changes something",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      execute: () => "done",
    });
    const h = createHarness({
      model: scriptedModel({
        name: "w",
        turns: [
          { tool_calls: [{ tool: "act", input: {} }], repeat: 3 },
          {
            tool_calls: [
              { tool: "act", input: {} },
              { tool: "act", input: {} },
            ],
            repeat: 2,
          },
          { say: "done" },
        ],
      }),
      tools: [act],
      audit: { dir },
    });
    const session = h.session();
    const result = await session.run("go");
    expect(result.toolCalls).toBe(7);
    const file = h.auditFile(session.id)!;
    const seen = kinds(file);
    expect(seen.at(-1)).toBe("seal");
    const calls = seen.filter((k) => k !== "seal");
    expect(calls).toHaveLength(14);
    for (let i = 0; i < calls.length; i += 2) {
      expect(calls[i]!.startsWith("intent:")).toBe(true);
      expect(calls[i + 1]).toBe(calls[i]!.replace("intent:", "tool_call:"));
    }
    await session.close();
    expect(verifyAuditFile(file).status).toBe("sealed");
  });
});
