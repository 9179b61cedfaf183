import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { durableGate } from "../../src/approvals/durable-gate.js";
import { createHarness } from "../../src/harness.js";
import type { Model, ModelRequest } from "../../src/models/model.js";
import type { ReinEvent } from "../../src/protocol/events.js";
import { SqliteStore } from "../../src/state/sqlite-store.js";
import { defineTool } from "../../src/tools/define-tool.js";

const dir = mkdtempSync(join(tmpdir(), "rein-resume-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(dir, `db${++n}.db`);

/** Turn k (counted from the history, so a resumed process continues it) calls `tool` once, then ends. */
function twoTurnModel(tool: string, input: unknown): Model {
  return {
    id: "test:model",
    async generate(req: ModelRequest) {
      const turns = req.messages.filter((m) => m.role === "assistant").length;
      const usage = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 };
      if (turns === 0)
        return {
          content: [{ type: "tool_use", id: "call_1", name: tool, input }],
          stopReason: "tool_use",
          usage,
          model: "test:model",
        };
      return {
        content: [{ type: "text", text: "done" }],
        stopReason: "end_turn",
        usage,
        model: "test:model",
      };
    },
  };
}

const pricing = { overrides: { "test:model": { input: 1, output: 2, cacheRead: 0, cacheWrite: 0 } } };

function appendTool(
  file: string,
  opts: { idempotent?: boolean; hang?: Promise<void>; keys?: string[] } = {},
) {
  return defineTool({
    name: "append_line",
    description: "appends a line to a file",
    input: z.object({ line: z.string() }),
    risk: { level: "HIGH", reason: "writes a file" },
    idempotent: opts.idempotent ?? false,
    async execute({ line }, ctx) {
      opts.keys?.push(ctx.idempotencyKey);
      if (opts.hang) await opts.hang;
      appendFileSync(file, `${line}\n`);
      return "appended";
    },
  });
}

const types = (events: readonly ReinEvent[]) => events.map((e) => e.type);

describe("durable approvals", () => {
  it("a HIGH call becomes a pending approval and the run ends requires_action; approved from another connection, resume runs it exactly once", async () => {
    const db = fresh();
    const out = join(dir, `out${n}.txt`);
    writeFileSync(out, "");
    const store = await SqliteStore.open(db);
    const harness = createHarness({
      model: twoTurnModel("append_line", { line: "hello" }),
      tools: [appendTool(out)],
      builtinTools: false,
      audit: false,
      pricing,
      store,
      approvals: { gate: durableGate(store) },
    });
    const session = harness.session({ id: "ses_durable" });
    const first = await session.run("append hello");
    expect(first.status).toBe("requires_action");
    expect(first.stopReason).toMatchObject({ type: "requires_action", approvals: [expect.any(String)] });
    const approvalId = (first.stopReason as { approvals: readonly string[] }).approvals[0]!;
    expect(readFileSync(out, "utf8")).toBe(""); // not run
    await expect(session.run("again")).rejects.toMatchObject({ code: "REIN_SESSION_REQUIRES_ACTION" });
    await session.close();
    expect(store.sessions.get({ tenantId: "local", sessionId: "ses_durable" })?.status).toBe(
      "requires_action",
    );

    // Another process (another connection to the file) decides.
    const other = await SqliteStore.open(db);
    const pending = other.approvals.list({ status: "pending" });
    expect(pending.map((p) => [p.id, p.tool, p.input, p.risk.level])).toEqual([
      [approvalId, "append_line", { line: "hello" }, "HIGH"],
    ]);
    other.approvals.decide(
      approvalId,
      { outcome: "approved", scope: "once" },
      { by: "ann", argsHash: pending[0]!.argsHash },
    );
    // The same decision twice is one decision; a conflicting one is refused.
    other.approvals.decide(approvalId, { outcome: "approved", scope: "once" }, { by: "bob" });
    expect(() =>
      other.approvals.decide(approvalId, { outcome: "denied", reason: "no" }, { by: "eve" }),
    ).toThrow(expect.objectContaining({ code: "REIN_APPROVAL_CONFLICT" }));
    await other.close();

    const { session: resumed, result } = await harness.resume("ses_durable");
    expect(result.status).toBe("completed");
    expect(result.finalText).toBe("done");
    expect(readFileSync(out, "utf8")).toBe("hello\n");
    await resumed.close();
    // Nothing left to resume: the call never runs twice.
    await expect(harness.resume("ses_durable")).rejects.toMatchObject({ code: "REIN_SESSION_NOT_RESUMABLE" });
    expect(readFileSync(out, "utf8")).toBe("hello\n");
    const events = store.eventLog.read({ tenantId: "local", sessionId: "ses_durable" }, 0);
    expect(types(events).filter((t) => t === "tool_call_started")).toHaveLength(1);
    expect(events.find((e) => e.type === "tool_call_decided" && e.data.verdict === "allow")).toMatchObject({
      data: { approval: { outcome: "approved", by: "ann", scope: "once" } },
    });
    await store.close();
  });

  it("a denial reaches the model as permission_denied and the tool never runs", async () => {
    const out = join(dir, "denied.txt");
    writeFileSync(out, "");
    const store = await SqliteStore.open(fresh());
    const harness = createHarness({
      model: twoTurnModel("append_line", { line: "x" }),
      tools: [appendTool(out)],
      builtinTools: false,
      audit: false,
      pricing,
      store,
      approvals: { gate: durableGate(store) },
    });
    const s = harness.session({ id: "ses_deny" });
    const r = await s.run("go");
    const id = (r.stopReason as { approvals: readonly string[] }).approvals[0]!;
    store.approvals.decide(id, { outcome: "denied", reason: "not today" }, { by: "ann" });
    const { result } = await harness.resume("ses_deny");
    expect(result.status).toBe("completed");
    const finished = store.eventLog
      .read({ tenantId: "local", sessionId: "ses_deny" }, 0)
      .find((e) => e.type === "tool_call_finished");
    expect(finished).toMatchObject({ data: { executed: false, errorType: "permission_denied" } });
    expect(JSON.stringify(finished)).toContain("not today");
    expect(readFileSync(out, "utf8")).toBe("");
    await store.close();
  });

  it("an expired approval applies onTimeout (deny) and refuses a late decision", async () => {
    const out = join(dir, "expired.txt");
    writeFileSync(out, "");
    const store = await SqliteStore.open(fresh());
    let now = 1_000_000;
    const harness = createHarness({
      model: twoTurnModel("append_line", { line: "late" }),
      tools: [appendTool(out)],
      builtinTools: false,
      audit: false,
      pricing,
      store,
      approvals: { gate: durableGate(store, { expiresInMs: 1000, now: () => now }) },
    });
    const r = await harness.session({ id: "ses_exp" }).run("go");
    const id = (r.stopReason as { approvals: readonly string[] }).approvals[0]!;
    now += 5000;
    expect(() =>
      store.approvals.decide(id, { outcome: "approved", scope: "once" }, { by: "ann", now }),
    ).toThrow(expect.objectContaining({ code: "REIN_APPROVAL_EXPIRED" }));
    const { result } = await harness.resume("ses_exp");
    expect(result.status).toBe("completed");
    expect(store.approvals.get(id)).toMatchObject({ status: "expired", decision: { outcome: "timeout" } });
    expect(readFileSync(out, "utf8")).toBe("");
    await store.close();
  });
});

describe("crash resume", () => {
  /** Runs until the tool is inside `execute` (its journal record committed), then abandons that process's state. */
  async function crashDuringTool(idempotent: boolean) {
    const db = fresh();
    const out = join(dir, `crash${n}.txt`);
    writeFileSync(out, "");
    const keys: string[] = [];
    let entered!: () => void;
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    const never = new Promise<void>(() => {});
    const tool = defineTool({
      name: "append_line",
      description: "appends",
      input: z.object({ line: z.string() }),
      risk: { level: "LOW", reason: "test" },
      idempotent,
      async execute(_input, ctx) {
        keys.push(ctx.idempotencyKey);
        entered();
        await never; // the "crash": this process never finishes the call
        return "unreachable";
      },
    });
    const dead = await SqliteStore.open(db);
    const deadHarness = createHarness({
      model: twoTurnModel("append_line", { line: "a" }),
      tools: [tool],
      builtinTools: false,
      audit: false,
      pricing,
      store: dead,
    });
    void deadHarness.session({ id: "ses_crash" }).run("go");
    await inside;
    // A new process opens the same file: it sees only what was committed before the tool ran.
    const store = await SqliteStore.open(db);
    const harness = createHarness({
      model: twoTurnModel("append_line", { line: "a" }),
      tools: [appendTool(out, { idempotent, keys })],
      builtinTools: false,
      audit: false,
      pricing,
      store,
    });
    const { result } = await harness.resume("ses_crash");
    const events = store.eventLog.read({ tenantId: "local", sessionId: "ses_crash" }, 0);
    await store.close();
    return { result, events, keys, out };
  }

  it("a non-idempotent call started before the crash is not re-run: the model reads outcome_unknown", async () => {
    const { result, events, keys, out } = await crashDuringTool(false);
    expect(result.status).toBe("completed");
    expect(keys).toHaveLength(1); // only the dead process's attempt
    expect(readFileSync(out, "utf8")).toBe("");
    expect(events.find((e) => e.type === "run_resumed")).toMatchObject({
      data: { calls: [{ callId: "call_1", resolution: "outcome_unknown" }] },
    });
    expect(events.find((e) => e.type === "tool_call_finished")).toMatchObject({
      data: { executed: false, errorType: "outcome_unknown" },
    });
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1)); // no gap, no duplicate
  });

  it("an idempotent call is re-run once, with the same idempotency key", async () => {
    const { result, events, keys, out } = await crashDuringTool(true);
    expect(result.status).toBe("completed");
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
    expect(readFileSync(out, "utf8")).toBe("a\n");
    expect(events.find((e) => e.type === "run_resumed")).toMatchObject({
      data: { calls: [{ callId: "call_1", resolution: "rerun" }] },
    });
  });

  it("a model call in flight at the crash: its open reservation is settled at its estimate and shown", async () => {
    const db = fresh();
    let entered!: () => void;
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    const hanging: Model = {
      id: "test:model",
      generate: () => {
        entered();
        return new Promise(() => {});
      },
    };
    const dead = await SqliteStore.open(db);
    void createHarness({ model: hanging, builtinTools: false, audit: false, pricing, store: dead })
      .session({ id: "ses_m" })
      .run("go");
    await inside;
    await dead.eventLog.sync?.();
    const store = await SqliteStore.open(db);
    const scope = { tenantId: "local", sessionId: "ses_m" };
    const open = store.ledger.openReservations(scope);
    expect(open).toHaveLength(1);
    const harness = createHarness({
      model: twoTurnModel("none", {}),
      builtinTools: false,
      audit: false,
      pricing,
      store,
    });
    const { result } = await harness.resume("ses_m");
    const resumed = store.eventLog.read(scope, 0).find((e) => e.type === "run_resumed");
    expect(resumed).toMatchObject({
      data: { recoveredReservations: [{ key: open[0]!.key, costUsd: open[0]!.estimateUsd }] },
    });
    expect(result.status).toBe("completed");
    const finished = store.eventLog.read(scope, 0).filter((e) => e.type === "model_call_finished");
    const recorded =
      finished.reduce((s, e) => s + (e.data as { costUsd: number }).costUsd, 0) + open[0]!.estimateUsd;
    expect(store.ledger.totals(scope).costUsd).toBeCloseTo(recorded, 12);
    expect(store.ledger.totals(scope).reservedUsd).toBe(0);
    await store.close();
  });

  it("an unknown session and a finished one are refused with their codes", async () => {
    const store = await SqliteStore.open(fresh());
    const harness = createHarness({
      model: twoTurnModel("none", {}),
      builtinTools: false,
      audit: false,
      pricing,
      store,
    });
    await expect(harness.resume("ses_nope")).rejects.toMatchObject({ code: "REIN_SESSION_NOT_FOUND" });
    await harness.session({ id: "ses_done" }).run("hi");
    await expect(harness.resume("ses_done")).rejects.toMatchObject({ code: "REIN_SESSION_NOT_RESUMABLE" });
    await store.close();
  });
});
