import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  defineTool,
  type EventLog,
  type EventSink,
  type Ledger,
  MemoryEventLog,
  MemoryLedger,
  type ReinEvent,
} from "../../src/index.js";
import { callTurn, contentOf, scriptHarness } from "../helpers.js";

/**
 * A sink that commits in batches: `handle` only buffers, `sync` makes the buffer durable.
 * `durable` is what a crash would leave behind.
 */
function groupCommitSink(fail?: () => unknown) {
  const buffered: ReinEvent[] = [];
  const durable: ReinEvent[] = [];
  let syncs = 0;
  const sink: EventSink = {
    name: "group-commit",
    handle: (event) => {
      buffered.push(event);
    },
    sync: () => {
      syncs++;
      const failure = fail?.();
      if (failure !== undefined) return failure as Promise<void>;
      durable.push(...buffered.splice(0));
      return Promise.resolve();
    },
  };
  return { sink, durable, syncs: () => syncs };
}

describe("the durability barrier: journal before a tool runs, results before they reach the model", () => {
  it("a call's tool_call_started is durable before the tool runs, its result before the next model call", async () => {
    const { sink, durable } = groupCommitSink();
    const seenByTool: string[][] = [];
    const tool = defineTool({
      name: "append_line",
      description: "non-idempotent",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      execute: () => {
        seenByTool.push(durable.map((e) => e.type));
        return "done";
      },
    });
    // When each model call starts: is the previous turn's tool_call_finished already durable?
    const durableAtModelCall: string[][] = [];
    const observer: EventSink = {
      name: "observer",
      handle: (e) => {
        if (e.type === "model_call_started") durableAtModelCall.push(durable.map((d) => d.type));
      },
    };
    const h = scriptHarness([callTurn("append_line"), { say: "ok" }], {
      tools: [tool],
      sinks: [sink, observer],
    });
    const r = await h.session().run("go");
    expect(r.stopReason.type).toBe("completed");
    expect(seenByTool).toHaveLength(1);
    expect(seenByTool[0]?.at(-1)).toBe("tool_call_started");
    expect(durableAtModelCall).toHaveLength(2);
    expect(durableAtModelCall[0]).not.toContain("tool_call_finished");
    expect(durableAtModelCall[1]?.at(-1)).toBe("tool_call_finished");
  });

  it("a log with sync() is awaited the same way", async () => {
    const inner = new MemoryEventLog();
    let durableUpTo = 0;
    let pending = 0;
    const log: EventLog = {
      append: (e) => {
        inner.append(e);
        pending = e.seq;
      },
      read: (s, a, l) => inner.read(s, a, l),
      lastSeq: (s) => inner.lastSeq(s),
      subscribe: (s, f) => inner.subscribe(s, f),
      flush: () => inner.flush(),
      sync: async () => {
        durableUpTo = pending;
      },
    };
    let startedSeqAtRun = -1;
    let durableAtRun = -1;
    const tool = defineTool({
      name: "probe",
      description: "reads the journal",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      execute: () => {
        durableAtRun = durableUpTo;
        const events = inner.read({ tenantId: session.tenantId, sessionId: session.id }, 0);
        startedSeqAtRun = events.find((e) => e.type === "tool_call_started")?.seq ?? -2;
        return "ok";
      },
    });
    const h = scriptHarness([callTurn("probe"), { say: "ok" }], { tools: [tool], eventLog: log });
    const session = h.session();
    await session.run("go");
    expect(startedSeqAtRun).toBeGreaterThan(0);
    expect(durableAtRun).toBeGreaterThanOrEqual(startedSeqAtRun);
  });

  it.each([
    [
      "rejects",
      () => Promise.reject(Object.assign(new Error("disk full"), { code: "REIN_AUDIT_WRITE_FAILED" })),
    ],
    // biome-ignore lint/suspicious/noThenProperty: the thenable is the attack under test
    ["returns a thenable, not a promise", () => ({ then: (ok: () => void) => ok() })],
    [
      "throws",
      () => {
        throw new Error("EIO");
      },
    ],
  ])("a sync() that %s: the tool does not run and the run stops (fail closed)", async (_, fail) => {
    const { sink } = groupCommitSink(fail);
    let ran = 0;
    const tool = defineTool({
      name: "act",
      description: "must not run unjournalled",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      execute: () => {
        ran++;
        return "ran";
      },
    });
    const h = scriptHarness([callTurn("act"), { say: "never" }], { tools: [tool], sinks: [sink] });
    const r = await h.session().run("go");
    expect(ran).toBe(0);
    expect(r.stopReason.type).toBe("error");
    const content = JSON.parse(contentOf(r.messages[2]?.content[0]));
    expect(content.error.type).toBe("cancelled");
    expect(content.error.message).toMatch(/journal record could not be made durable/);
    // The model was not called again after the failure.
    expect(r.messages.filter((m) => m.role === "assistant")).toHaveLength(1);
  });
  it("the results' barrier comes after the next model call's reservation (a transactional store commits both at once), and before the model sees them", async () => {
    const { sink, durable } = groupCommitSink();
    const inner = new MemoryLedger();
    const atReserve: string[][] = [];
    const ledger: Ledger = {
      reserve: (scope, entry) => {
        atReserve.push(durable.map((e) => e.type));
        return inner.reserve(scope, entry);
      },
      settle: (scope, key, actual) => inner.settle(scope, key, actual),
      release: (scope, key) => inner.release(scope, key),
      totals: (scope) => inner.totals(scope),
      usageOf: (scope, which) => inner.usageOf(scope, which),
    };
    const atModelCall: string[][] = [];
    const observer: EventSink = {
      name: "observer",
      handle: (e) => {
        if (e.type === "model_call_started") atModelCall.push(durable.map((d) => d.type));
      },
    };
    const tool = defineTool({
      name: "act",
      description: "test",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      execute: () => "done",
    });
    const h = scriptHarness([callTurn("act"), { say: "ok" }], {
      tools: [tool],
      sinks: [sink, observer],
      ledger,
    });
    const r = await h.session().run("go");
    expect(r.stopReason.type).toBe("completed");
    // Turn 2's reservation is made while turn 1's result is still buffered: one commit can carry both.
    expect(atReserve).toHaveLength(2);
    expect(atReserve[1]).not.toContain("tool_call_finished");
    expect(atModelCall[1]?.at(-1)).toBe("tool_call_finished");
  });

  it("a run that stops after its tool calls (max turns) makes their results durable before it returns; a failure there stops it fatal", async () => {
    let failAt = 0;
    const { sink, durable, syncs } = groupCommitSink(() =>
      syncs() === failAt ? Promise.reject(new Error("disk gone")) : undefined,
    );
    const tool = defineTool({
      name: "act",
      description: "test",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      execute: () => "done",
    });
    const ok = await scriptHarness([callTurn("act")], {
      tools: [tool],
      sinks: [sink],
      limits: { maxTurns: 1 },
    })
      .session()
      .run("go");
    expect(ok.stopReason.type).toBe("max_turns");
    expect(durable.map((e) => e.type)).toContain("tool_call_finished");
    // Second sync of the run: the results' barrier (the first is the call's journal entry).
    failAt = syncs() + 2;
    const failed = await scriptHarness([callTurn("act")], {
      tools: [tool],
      sinks: [sink],
      limits: { maxTurns: 1 },
    })
      .session()
      .run("go");
    expect(failed.stopReason).toMatchObject({ type: "error", message: expect.stringMatching(/disk gone/) });
  });
});
