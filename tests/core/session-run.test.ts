import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createHarness, defineTool, MemoryEventLog, type ReinError } from "../../src/index.js";
import { recordingSink, scriptedModel } from "../../src/testing.js";
import { callTurn, collect, echoTool, scriptHarness } from "../helpers.js";

describe("session run", () => {
  it("completes a scripted task: model ⇄ tools, usage summed, final text", async () => {
    const h = scriptHarness(
      [
        {
          say: "echoing",
          ...callTurn("echo", { text: "hi" }),
          usage: { input_tokens: 100, output_tokens: 10 },
        },
        { say: "all done", usage: { input_tokens: 150, output_tokens: 5 } },
      ],
      { tools: [echoTool] },
    );
    const session = h.session();
    const result = await session.run("say hi");
    expect(result.stopReason).toEqual({ type: "completed" });
    expect(result.status).toBe("completed");
    expect(result.turns).toBe(2);
    expect(result.toolCalls).toBe(1);
    expect(result.finalText).toBe("all done");
    expect(result.usage).toEqual({
      inputTokens: 250,
      outputTokens: 15,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
    expect(result.costUsd).toBe(0);
    const toolResult = result.messages[2];
    expect(toolResult).toEqual({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: "toolu_1_0", content: "hi" }],
    });
    expect(h.ledger.totals({ tenantId: "local", sessionId: session.id }).usage.inputTokens).toBe(250);
  });

  it("gives every event the envelope: version, per-session monotonic seq, ids, timestamp", async () => {
    const log = new MemoryEventLog();
    const h = scriptHarness([callTurn("echo", { text: "a" }), { say: "ok" }], {
      tools: [echoTool],
      eventLog: log,
      tenantId: "acme",
    });
    const session = h.session({ id: "ses-envelope" });
    const first = await session.run("one");
    const second = await session.run("two");
    const events = log.read({ tenantId: "acme", sessionId: "ses-envelope" }, 0);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    for (const e of events) {
      expect(e.v).toBe(1);
      expect(e.sessionId).toBe("ses-envelope");
      expect(e.tenantId).toBe("acme");
      expect(typeof e.ts).toBe("number");
    }
    expect(events.filter((e) => e.type === "session_started")).toHaveLength(1);
    expect(new Set(events.filter((e) => e.type !== "session_started").map((e) => e.runId))).toEqual(
      new Set([first.runId, second.runId]),
    );
    // A reader starting after the first run's end sees exactly the second run.
    const after = log.read({ tenantId: "acme", sessionId: "ses-envelope" }, first.lastSeq);
    expect(after.every((e) => e.runId === second.runId)).toBe(true);
    expect(after[0]?.type).toBe("run_started");
    expect(after.at(-1)?.type).toBe("run_ended");
  });

  it("stream() yields the same events, in the same order, as the log records", async () => {
    const log = new MemoryEventLog();
    const h = scriptHarness([{ say: "hello there", ...callTurn("echo", { text: "x" }) }, { say: "bye" }], {
      tools: [echoTool],
      eventLog: log,
    });
    const session = h.session();
    const stream = session.stream("go");
    const seen = await collect(stream);
    const result = await stream.result;
    expect(result.stopReason.type).toBe("completed");
    expect(seen).toEqual(log.read({ tenantId: "local", sessionId: session.id }, 0));
    expect(seen.map((e) => e.type)).toEqual([
      "session_started",
      "run_started",
      "model_call_started",
      ...seen.filter((e) => e.type === "text_delta" && e.data.turn === 1).map(() => "text_delta"),
      "model_call_finished",
      "tool_call_requested",
      "tool_call_decided",
      "tool_call_started",
      "tool_call_finished",
      "model_call_started",
      ...seen.filter((e) => e.type === "text_delta" && e.data.turn === 2).map(() => "text_delta"),
      "model_call_finished",
      "run_ended",
    ]);
    const deltas = seen.flatMap((e) => (e.type === "text_delta" && e.data.turn === 1 ? [e.data.delta] : []));
    expect(deltas.join("")).toBe("hello there");
  });

  it("records each pipeline stage's decision, naming the unfilled slots", async () => {
    const sink = recordingSink();
    const h = scriptHarness([callTurn("echo", { text: "x" }), { say: "ok" }], {
      tools: [echoTool],
      sinks: [sink],
    });
    await h.session().run("go");
    const [decided] = sink.ofType("tool_call_decided");
    expect(decided?.data.verdict).toBe("allow");
    expect(decided?.data.risk).toEqual({ level: "LOW", reason: "pure", rule: "tool-profile:echo" });
    expect(decided?.data.stages.map((s) => [s.stage, s.outcome, s.by])).toEqual([
      ["validate", "pass", "tool-schema"],
      ["classify", "pass", "policy:rein"],
      // Injection detection is on by default, and a detection taints: the taint guard fills the slot.
      ["guards", "pass", "guard:taint"],
      ["hooks", "skipped", "hooks"],
      ["approve", "pass", "approvals"],
    ]);
    // Post-processing is filled by default: secret redaction, then injection scanning.
    const [finished] = sink.ofType("tool_call_finished");
    expect(finished?.data.stages.map((s) => [s.stage, s.outcome, s.by])).toEqual([
      ["post_process", "pass", "processor:redaction"],
      ["post_process", "pass", "processor:injection-scan"],
    ]);
    // With security off, the slot says it is unfilled.
    const bare = recordingSink();
    await scriptHarness([callTurn("echo", { text: "x" }), { say: "ok" }], {
      tools: [echoTool],
      sinks: [bare],
      security: { redact: false, detect: false, spotlight: false },
    })
      .session()
      .run("go");
    expect(bare.ofType("tool_call_finished")[0]?.data.stages[0]).toMatchObject({
      stage: "post_process",
      outcome: "skipped",
      by: "slot:unfilled",
    });
    expect(bare.ofType("tool_call_decided")[0]?.data.stages[2]).toEqual({
      stage: "guards",
      outcome: "skipped",
      by: "slot:unfilled",
      note: expect.any(String),
    });
  });

  it("refuses a second concurrent run and any run after close", async () => {
    // A fake clock holds the first run in its model call for as long as the test needs.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const h = scriptHarness([{ delay_ms: 50, say: "slow" }, { say: "again" }]);
      const session = h.session();
      const first = session.run("one");
      await vi.advanceTimersByTimeAsync(49);
      expect(session.running).toBe(true);
      await expect(session.run("two")).rejects.toMatchObject({ code: "REIN_SESSION_BUSY" });
      await vi.advanceTimersByTimeAsync(1);
      expect((await first).finalText).toBe("slow");
      expect(session.running).toBe(false);
      await session.close();
      await expect(session.run("three")).rejects.toMatchObject({ code: "REIN_SESSION_CLOSED" });
    } finally {
      vi.useRealTimers();
    }
  });

  it("close() during a run cancels it and ends the log with run_ended, then session_ended", async () => {
    const log = new MemoryEventLog();
    const h = scriptHarness([{ delay_ms: 60_000, say: "never" }], { eventLog: log });
    const session = h.session();
    const running = session.run("go");
    await session.close();
    expect((await running).stopReason).toEqual({ type: "cancelled", reason: "the session was closed" });
    const types = log.read({ tenantId: "local", sessionId: session.id }, 0).map((e) => e.type);
    expect(types.slice(-2)).toEqual(["run_ended", "session_ended"]);
  });

  it("rejects an empty task with a clear error", async () => {
    const h = scriptHarness([{ say: "x" }]);
    await expect(h.session().run("  ")).rejects.toMatchObject({ code: "REIN_INPUT_INVALID" });
  });

  it("runs consecutive read-only calls concurrently and others one at a time, keeping result order", async () => {
    const log: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const make = (name: string, readOnly: boolean) =>
      defineTool({
        name,
        description: name,
        input: z.object({ id: z.string() }),
        risk: { level: "LOW", reason: "test" },
        readOnly,
        execute: async ({ id }) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          log.push(`start ${id}`);
          await new Promise((r) => setImmediate(r));
          log.push(`end ${id}`);
          inFlight--;
          return id;
        },
      });
    const h = scriptHarness(
      [
        {
          tool_calls: [
            { tool: "look", input: { id: "r1" } },
            { tool: "look", input: { id: "r2" } },
            { tool: "change", input: { id: "w1" } },
            { tool: "look", input: { id: "r3" } },
          ],
        },
        { say: "done" },
      ],
      { tools: [make("look", true), make("change", false)] },
    );
    const result = await h.session().run("go");
    expect(maxInFlight).toBe(2);
    expect(log.indexOf("end r1")).toBeLessThan(log.indexOf("start w1"));
    expect(log.indexOf("end r2")).toBeLessThan(log.indexOf("start w1"));
    expect(log.indexOf("end w1")).toBeLessThan(log.indexOf("start r3"));
    const results = result.messages[2]?.content.map((b) => (b.type === "tool_result" ? b.content : ""));
    expect(results).toEqual(["r1", "r2", "w1", "r3"]);
  });

  it("an unknown model price is an error at creation, unless priced or knowingly zero", () => {
    const model = { id: "acme:mystery-1", generate: async () => ({}) as never };
    expect(() => createHarness({ model, audit: false })).toThrow(
      /No price is known for model "acme:mystery-1"/,
    );
    try {
      createHarness({ model, audit: false });
    } catch (err) {
      expect((err as ReinError).code).toBe("REIN_PRICE_UNKNOWN");
    }
    expect(() =>
      createHarness({
        model,
        audit: false,
        pricing: { overrides: { "acme:mystery-1": { input: 1, output: 2, cacheRead: 0, cacheWrite: 0 } } },
      }),
    ).not.toThrow();
    expect(() => createHarness({ model, audit: false, pricing: { onUnknown: "zero" } })).not.toThrow();
  });

  it("computes cost from the price table, cache tokens included", async () => {
    const h = createHarness({
      model: scriptedModel({
        name: "priced",
        turns: [
          {
            say: "x",
            usage: {
              input_tokens: 1_000_000,
              output_tokens: 1_000_000,
              cache_read_tokens: 1_000_000,
              cache_write_tokens: 1_000_000,
            },
          },
        ],
      }),
      audit: false,
      pricing: {
        overrides: { "scripted:priced": { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 } },
      },
    });
    const result = await h.session().run("go");
    expect(result.costUsd).toBeCloseTo(3 + 15 + 0.3 + 3.75, 10);
  });

  it("invalid configuration names the field", () => {
    expect(() => createHarness({ model: "scripted:demo", limits: { maxTurns: 0 } })).toThrow(
      /config\.limits\.maxTurns/,
    );
    expect(() => createHarness({ model: "scripted:demo", bogus: 1 } as never)).toThrow(/config.*bogus|bogus/);
    expect(() => createHarness({ model: "nope:thing" })).toThrow(/provider "nope" is not available/);
  });
});
