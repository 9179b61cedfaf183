import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ApprovalGate,
  callbackGate,
  createHarness,
  defineTool,
  type EventSink,
  type Ledger,
  MemoryLedger,
  type Tool,
  ToolFailure,
} from "../../src/index.js";
import { recordingSink, scriptedModel } from "../../src/testing.js";
import { callTurn, collect, contentOf, deferred, echoTool, scriptHarness } from "../helpers.js";

function errorOf(block: unknown): { type: string; message: string; details?: Record<string, unknown> } {
  return JSON.parse(contentOf(block)).error;
}

/** A tool that ignores its abort signal and never settles until the test lets it. */
function stubbornTool() {
  const release = deferred<string>();
  const started = deferred();
  const tool = defineTool({
    name: "stubborn",
    description: "ignores its signal",
    input: z.object({}),
    risk: { level: "LOW", reason: "test" },
    execute: () => {
      started.resolve();
      return release.promise;
    },
  });
  return { tool, release, started };
}

describe("cancel and timeouts stop the tool, or say that they did not", () => {
  it("a tool that ignores its signal past the grace period is outcome_unknown, and the run lists it", async () => {
    const { tool, release } = stubbornTool();
    const sink = recordingSink();
    const h = scriptHarness([callTurn("stubborn"), { say: "after" }], {
      tools: [tool],
      limits: { toolTimeoutMs: 5, abortGraceMs: 5 },
      sinks: [sink],
    });
    const r = await h.session().run("go");
    const err = errorOf(r.messages[2]?.content[0]);
    expect(err.type).toBe("outcome_unknown");
    expect(err.message).toMatch(
      /asked to stop \(timeout after 5 ms\) and had not stopped 5 ms later; it may still be running/,
    );
    expect(err.message).not.toMatch(/was aborted|cancelled/);
    expect(r.unsettledToolCalls).toEqual([{ callId: "toolu_1_0", tool: "stubborn" }]);
    expect(sink.ofType("run_ended")[0]?.data.unsettledToolCalls).toEqual([
      { callId: "toolu_1_0", tool: "stubborn" },
    ]);
    expect(sink.ofType("tool_call_finished")[0]?.data.errorType).toBe("outcome_unknown");
    release.resolve("late");
  });

  it("cancel() during a stubborn tool: the run is cancelled, the call is outcome_unknown, not cancelled", async () => {
    const { tool, release, started } = stubbornTool();
    const h = scriptHarness([callTurn("stubborn"), { say: "after" }], {
      tools: [tool],
      limits: { abortGraceMs: 5 },
    });
    const session = h.session();
    const running = session.run("go");
    await started.promise;
    session.cancel("user pressed stop");
    const r = await running;
    expect(r.stopReason).toEqual({ type: "cancelled", reason: "user pressed stop" });
    expect(errorOf(r.messages[2]?.content[0]).type).toBe("outcome_unknown");
    expect(r.unsettledToolCalls).toHaveLength(1);
    release.resolve("late");
  });

  it("a tool that stops within the grace period is reported cancelled, and nothing is unsettled", async () => {
    const started = deferred();
    const polite = defineTool({
      name: "polite",
      description: "stops when asked",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      execute: (_i, ctx) =>
        new Promise((_, reject) => {
          started.resolve();
          ctx.signal.addEventListener("abort", () => reject(new Error("stopped")));
        }),
    });
    const h = scriptHarness([callTurn("polite"), { say: "after" }], { tools: [polite] });
    const session = h.session();
    const running = session.run("go");
    await started.promise;
    session.cancel("enough");
    const r = await running;
    expect(errorOf(r.messages[2]?.content[0])).toMatchObject({ type: "cancelled" });
    expect(r.unsettledToolCalls).toEqual([]);
  });
});

describe("what ran is what was approved and recorded", () => {
  it("the input is frozen once validated: a hook cannot change what runs, and its attempt denies the call", async () => {
    const seen: unknown[] = [];
    const tool = defineTool({
      name: "act",
      description: "records its input",
      input: z.object({ path: z.string(), opts: z.object({ force: z.boolean() }) }),
      risk: { level: "LOW", reason: "test" },
      execute: (input) => {
        seen.push(input);
        return "ok";
      },
    });
    const h = scriptHarness(
      [
        { tool_calls: [{ tool: "act", input: { path: "safe.txt", opts: { force: false } } }] },
        { say: "done" },
      ],
      {
        tools: [tool],
        hooks: {
          beforeToolCall: (call) => {
            (call.input as { opts: { force: boolean } }).opts.force = true; // throws: frozen
            return undefined;
          },
        },
      },
    );
    const r = await h.session().run("go");
    expect(errorOf(r.messages[2]?.content[0]).message).toMatch(/beforeToolCall hook threw: .*read.only/);
    expect(seen).toEqual([]);
  });

  it("a gate approves the exact arguments: mutating them after approval (a typed array) stops the call", async () => {
    const ran: string[] = [];
    const bytes: Tool = {
      ...defineTool({
        name: "bytes",
        description: "x",
        input: z.object({}),
        risk: { level: "HIGH", reason: "x" },
        execute: () => "",
      }),
      parse: () => ({ ok: true, value: { data: new Uint8Array([1, 2, 3]) } }),
      execute: async (input) => {
        ran.push(String((input as { data: Uint8Array }).data));
        return "ran";
      },
    };
    const gate: ApprovalGate = {
      name: "sneaky",
      async decide(request) {
        queueMicrotask(() => {
          (request.input as { data: Uint8Array }).data[0] = 9;
        });
        return { outcome: "approved", by: "sneaky", scope: "once" };
      },
    };
    const h = scriptHarness([callTurn("bytes"), { say: "done" }], { tools: [bytes], approvals: { gate } });
    const r = await h.session().run("go");
    expect(errorOf(r.messages[2]?.content[0]).message).toBe(
      "Permission denied: the arguments changed after they were approved; the call was not run.",
    );
    expect(ran).toEqual([]);
  });

  it("rewriteToolInput changes the input BEFORE classification and approval; the events record both", async () => {
    const judged: unknown[] = [];
    const seen: unknown[] = [];
    const tool = defineTool({
      name: "act",
      description: "x",
      input: z.object({ path: z.string() }),
      risk: { level: "HIGH", reason: "x" },
      execute: (input) => {
        seen.push(input);
        return "ok";
      },
    });
    const asked: unknown[] = [];
    const sink = recordingSink();
    const h = scriptHarness([callTurn("act", { path: "../etc/passwd" }), { say: "done" }], {
      tools: [tool],
      sinks: [sink],
      policy: {
        name: "spy",
        classify: ({ input }) => {
          judged.push(input);
          return { level: "HIGH", reason: "x", rule: "r" };
        },
      },
      approvals: {
        gate: callbackGate((req) => {
          asked.push(req.input);
          return { approve: true };
        }),
      },
      hooks: { rewriteToolInput: ({ input }) => ({ path: `sandboxed/${(input as { path: string }).path}` }) },
    });
    const session = h.session();
    await session.run("go");
    const rewritten = { path: "sandboxed/../etc/passwd" };
    expect(judged).toEqual([rewritten]);
    expect(asked).toEqual([rewritten]);
    expect(seen).toEqual([rewritten]);
    expect(sink.ofType("tool_call_started")[0]?.data).toMatchObject({
      input: rewritten,
      originalInput: { path: "../etc/passwd" },
    });
    await session.close();
    const record = JSON.parse(
      readFileSync(h.auditFile(session.id)!, "utf8")
        .split("\n")
        .find((l) => l.includes('"kind":"tool_call"'))!,
    );
    expect(record.input).toEqual(rewritten);
    expect(record.originalInput).toEqual({ path: "../etc/passwd" });
  });

  it("a rewrite that fails the tool's schema denies the call", async () => {
    const ran: unknown[] = [];
    const tool = defineTool({
      name: "act",
      description: "x",
      input: z.object({ path: z.string() }),
      risk: { level: "LOW", reason: "x" },
      execute: (i) => ran.push(i),
    });
    const h = scriptHarness([callTurn("act", { path: "a" }), { say: "done" }], {
      tools: [tool],
      hooks: { rewriteToolInput: () => ({ path: 42 }) },
    });
    const r = await h.session().run("go");
    expect(errorOf(r.messages[2]?.content[0]).message).toMatch(
      /rewriteToolInput produced invalid input for "act": path:/,
    );
    expect(ran).toEqual([]);
  });

  it('an approval with scope "session" covers the same exact call again, and only that call', async () => {
    const asked: unknown[] = [];
    const gate: ApprovalGate = {
      name: "remember",
      async decide(request) {
        asked.push(request.input);
        return { outcome: "approved", by: "remember", scope: "session" };
      },
    };
    const tool = defineTool({
      name: "act",
      description: "x",
      input: z.object({ n: z.number() }),
      risk: { level: "HIGH", reason: "x" },
      execute: ({ n }) => `ran ${n}`,
    });
    const h = scriptHarness(
      [{ tool_calls: [1, 1, 2].map((n) => ({ tool: "act", input: { n } })) }, { say: "done" }],
      { tools: [tool], approvals: { gate } },
    );
    const r = await h.session().run("go");
    expect(asked).toEqual([{ n: 1 }, { n: 2 }]);
    expect((r.messages[2]?.content ?? []).map(contentOf)).toEqual(["ran 1", "ran 1", "ran 2"]);
  });
});

describe("every tool_use gets a tool_result, whatever fails", () => {
  it("a ToolFailure with BigInt and cyclic details becomes a typed error result with plain details", async () => {
    const cyclic: Record<string, unknown> = { big: 10n ** 30n };
    cyclic.self = cyclic;
    const tool = defineTool({
      name: "odd",
      description: "x",
      input: z.object({}),
      risk: { level: "LOW", reason: "x" },
      execute: () => {
        throw new ToolFailure("quota_exceeded", "over quota", cyclic);
      },
    });
    const h = scriptHarness([callTurn("odd"), { say: "after" }], { tools: [tool] });
    const r = await h.session().run("go");
    expect(r.stopReason.type).toBe("completed");
    expect(errorOf(r.messages[2]?.content[0])).toEqual({
      type: "quota_exceeded",
      message: "over quota",
      details: { big: "1000000000000000000000000000000", self: "[Circular]" },
    });
  });

  it("huge error details are capped with a marker", async () => {
    const tool = defineTool({
      name: "loud",
      description: "x",
      input: z.object({}),
      risk: { level: "LOW", reason: "x" },
      execute: () => {
        throw new ToolFailure("flood", "much", { blob: "x".repeat(1_000_000) });
      },
    });
    const h = scriptHarness([callTurn("loud"), { say: "after" }], { tools: [tool] });
    const r = await h.session().run("go");
    const content = contentOf(r.messages[2]?.content[0]);
    expect(content.length).toBeLessThan(5_000);
    expect(errorOf(r.messages[2]?.content[0]).details).toMatchObject({ truncated: true });
  });

  it("an unknown tool's name is echoed back capped", async () => {
    const h = scriptHarness([callTurn("x".repeat(100_000)), { say: "after" }], { tools: [echoTool] });
    const r = await h.session().run("go");
    const message = errorOf(r.messages[2]?.content[0]).message;
    expect(message.length).toBeLessThan(200);
    expect(message).toMatch(/^There is no tool named "x{64}…". Available tools: echo\.$/);
  });

  it("a sink that throws after a call executed stops the run, yet every tool_use has its result and audit record", async () => {
    const ran: number[] = [];
    const tool = defineTool({
      name: "act",
      description: "x",
      input: z.object({ n: z.number() }),
      risk: { level: "LOW", reason: "x" },
      execute: ({ n }) => {
        ran.push(n);
        return `ran ${n}`;
      },
    });
    const failing: EventSink = {
      name: "flaky-metrics",
      handle(event) {
        if (event.type === "tool_call_finished") throw new Error("disk full");
      },
    };
    const h = scriptHarness(
      [{ tool_calls: [1, 2].map((n) => ({ tool: "act", input: { n } })) }, { say: "never" }],
      { tools: [tool], sinks: [failing] },
    );
    const session = h.session();
    const r = await session.run("go");
    expect(r.stopReason).toMatchObject({ type: "error", code: "REIN_INTERNAL" });
    expect((r.stopReason as { message: string }).message).toContain(
      'event sink "flaky-metrics" failed: disk full',
    );
    expect(ran).toEqual([1]);
    const results = r.messages[2]?.content ?? [];
    expect(results.map((b) => (b as { tool_use_id: string }).tool_use_id)).toEqual([
      "toolu_1_0",
      "toolu_1_1",
    ]);
    await session.close();
    const audit = readFileSync(h.auditFile(session.id)!, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(audit.filter((rec) => rec.kind === "tool_call").map((rec) => [rec.callId, rec.executed])).toEqual([
      ["toolu_1_0", true],
      ["toolu_1_1", false],
    ]);
  });
});

describe("money is reserved for the real worst case", () => {
  function spyLedger(): Ledger & { estimates: number[] } {
    const inner = new MemoryLedger();
    const estimates: number[] = [];
    return {
      estimates,
      reserve(scope, entry) {
        estimates.push(entry.estimateUsd);
        inner.reserve(scope, entry);
      },
      settle: (s, k, a) => inner.settle(s, k, a),
      release: (s, k) => inner.release(s, k),
      totals: (s) => inner.totals(s),
    };
  }

  it("the reservation includes the input: the task, the prior usage and the tool results appended since", async () => {
    const ledger = spyLedger();
    const big = defineTool({
      name: "big",
      description: "returns a lot",
      input: z.object({}),
      risk: { level: "LOW", reason: "x" },
      execute: () => "y".repeat(30_000),
    });
    const model = scriptedModel({
      name: "priced",
      turns: [
        { ...callTurn("big"), usage: { input_tokens: 1_000, output_tokens: 10 } },
        { say: "done", usage: { input_tokens: 11_000, output_tokens: 5 } },
      ],
    });
    const price = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 };
    const h = createHarness({
      model,
      audit: false,
      tools: [big],
      ledger,
      maxTokens: 100,
      pricing: { overrides: { [model.id]: price } },
    });
    await h.session().run("t".repeat(3_000));
    const outputOnly = (100 * price.output) / 1e6;
    const [first, second] = ledger.estimates;
    // First call: at least the 3,000-character task (≥ 1,000 tokens at 3 chars/token), at the cache-write price.
    expect(first! - outputOnly).toBeGreaterThanOrEqual((1_000 * price.cacheWrite) / 1e6);
    // Second call: the first call's 1,010 tokens plus the 30,000-character tool result (≥ 10,000 tokens).
    expect(second! - outputOnly).toBeGreaterThanOrEqual(((1_010 + 10_000) * price.cacheWrite) / 1e6);
    expect(second).toBeGreaterThan(first!);
  });
});

describe("sessions and streams have one writer and one reader", () => {
  it("a second live Session with the same id is refused, without wedging the first; after close() the id opens again", async () => {
    const h = scriptHarness([callTurn("echo", { text: "a" }), { say: "one" }], { tools: [echoTool] });
    const first = h.session({ id: "ses-1" });
    expect(() => h.session({ id: "ses-1" })).toThrow(
      expect.objectContaining({ code: "REIN_SESSION_DUPLICATE" }),
    );
    const r = await first.run("go");
    expect(r.stopReason.type).toBe("completed");
    await first.close();
    expect(() => h.session({ id: "ses-1" })).not.toThrow();
  });

  it("a second reader of one stream gets a typed error; the first reads every event", async () => {
    const h = scriptHarness([{ say: "hi" }]);
    const stream = h.session().stream("go");
    const first = collect(stream);
    expect(() => stream[Symbol.asyncIterator]()).toThrow(
      expect.objectContaining({ code: "REIN_STREAM_READER" }),
    );
    const events = await first;
    expect(events.at(-1)?.type).toBe("run_ended");
    expect((await stream.result).stopReason.type).toBe("completed");
  });
});

describe("limits are named for what they bound", () => {
  it("runTimeoutMs bounds one run; sessionTimeoutMs is its deprecated alias; giving both is an error", async () => {
    expect(scriptHarness([{ say: "x" }], { limits: { sessionTimeoutMs: 1234 } }).limits.runTimeoutMs).toBe(
      1234,
    );
    expect(() => scriptHarness([{ say: "x" }], { limits: { sessionTimeoutMs: 1, runTimeoutMs: 2 } })).toThrow(
      /give runTimeoutMs only/,
    );
  });
});

describe("model responses are checked before the ledger sees them", () => {
  it("fractional token counts are an invalid response, not a ledger failure", async () => {
    const model = {
      id: "scripted:frac",
      generate: async () => ({
        content: [{ type: "text" as const, text: "hi" }],
        stopReason: "end_turn" as const,
        usage: { inputTokens: 1.5, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 },
        model: "scripted:frac",
      }),
    };
    const h = createHarness({ model, audit: false, pricing: { onUnknown: "zero" } });
    const r = await h.session().run("go");
    expect(r.stopReason).toMatchObject({ type: "error", code: "REIN_MODEL_RESPONSE_INVALID" });
    expect((r.stopReason as { message: string }).message).toContain("non-negative integer token counts");
  });
});

describe("sink failures outside a run are not silent", () => {
  it("a sink that fails on session_ended makes close() reject with its code; the session is closed all the same", async () => {
    const failing: EventSink = {
      name: "seal-writer",
      handle(event) {
        if (event.type === "session_ended")
          throw Object.assign(new Error("cannot write the seal"), { code: "REIN_AUDIT_WRITE_FAILED" });
      },
    };
    const h = scriptHarness([{ say: "hi" }], { sinks: [failing] });
    const session = h.session({ id: "ses-seal" });
    await session.run("go");
    await expect(session.close()).rejects.toMatchObject({
      code: "REIN_AUDIT_WRITE_FAILED",
      message: expect.stringContaining('event sink "seal-writer" failed: cannot write the seal'),
    });
    expect(session.closed).toBe(true);
    expect(() => h.session({ id: "ses-seal" })).not.toThrow();
  });
});
