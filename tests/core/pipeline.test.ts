import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import {
  callbackGate,
  defineTool,
  type EventSink,
  type Guard,
  type Policy,
  ToolFailure,
  ToolRegistry,
} from "../../src/index.js";
import { recordingSink } from "../../src/testing.js";
import { callTurn, contentOf, echoTool, scriptHarness } from "../helpers.js";

function errorOf(content: unknown): { type: string; message: string } {
  return JSON.parse(contentOf(content)).error;
}

const risky = defineTool({
  name: "nuke",
  description: "dangerous",
  input: z.object({ target: z.string() }),
  risk: { level: "HIGH", reason: "destroys things" },
  execute: ({ target }) => `nuked ${target}`,
});

describe("tool-call pipeline: every failure is a result, the loop continues", () => {
  it("an unknown tool returns unknown_tool listing the real ones", async () => {
    const h = scriptHarness([callTurn("teleport"), { say: "ok" }], { tools: [echoTool] });
    const r = await h.session().run("go");
    expect(r.stopReason.type).toBe("completed");
    expect(errorOf(r.messages[2]?.content[0])).toEqual({
      type: "unknown_tool",
      message: 'There is no tool named "teleport". Available tools: echo.',
    });
  });

  it("invalid input returns invalid_input naming the field, and the tool never runs", async () => {
    let ran = false;
    const strict = defineTool({
      name: "strict",
      description: "needs a count",
      input: z.object({ count: z.number().int() }),
      risk: { level: "LOW", reason: "t" },
      execute: () => {
        ran = true;
      },
    });
    const h = scriptHarness([callTurn("strict", { count: "three" }), { say: "ok" }], { tools: [strict] });
    const r = await h.session().run("go");
    expect(ran).toBe(false);
    const err = errorOf(r.messages[2]?.content[0]);
    expect(err.type).toBe("invalid_input");
    expect(err.message).toMatch(/^Invalid input for tool "strict": count: /);
  });

  it("a throwing tool returns tool_error with its message; a ToolFailure keeps its own type", async () => {
    const boom = defineTool({
      name: "boom",
      description: "throws",
      input: z.object({ kind: z.string() }),
      risk: { level: "LOW", reason: "t" },
      execute: ({ kind }) => {
        if (kind === "failure") throw new ToolFailure("quota_exceeded", "no quota left");
        if (kind === "string") throw "a bare string";
        throw new TypeError("cannot read x of undefined");
      },
    });
    const h = scriptHarness(
      [
        {
          tool_calls: [
            { tool: "boom", input: { kind: "error" } },
            { tool: "boom", input: { kind: "failure" } },
            { tool: "boom", input: { kind: "string" } },
          ],
        },
        { say: "survived" },
      ],
      { tools: [boom] },
    );
    const r = await h.session().run("go");
    expect(r.finalText).toBe("survived");
    const [a, b, c] = r.messages[2]?.content ?? [];
    expect(errorOf(a)).toEqual({
      type: "tool_error",
      message: 'Tool "boom" failed: cannot read x of undefined',
    });
    expect(errorOf(b)).toEqual({ type: "quota_exceeded", message: "no quota left" });
    expect(errorOf(c)).toEqual({ type: "tool_error", message: 'Tool "boom" failed: a bare string' });
  });

  it("a result that cannot be serialised is a tool_error, not a crash", async () => {
    const cyclic = defineTool({
      name: "cyclic",
      description: "returns a cycle",
      input: z.object({}),
      risk: { level: "LOW", reason: "t" },
      execute: () => {
        const o: Record<string, unknown> = {};
        o.self = o;
        return o;
      },
    });
    const h = scriptHarness([callTurn("cyclic"), { say: "ok" }], { tools: [cyclic] });
    const r = await h.session().run("go");
    expect(errorOf(r.messages[2]?.content[0]).type).toBe("tool_error");
  });

  it("caps a huge tool output and says so", async () => {
    const big = defineTool({
      name: "big",
      description: "big output",
      input: z.object({}),
      risk: { level: "LOW", reason: "t" },
      execute: () => "x".repeat(100_000),
    });
    const sink = recordingSink();
    const h = scriptHarness([callTurn("big"), { say: "ok" }], {
      tools: [big],
      limits: { maxToolOutputBytes: 1000 },
      sinks: [sink],
    });
    const r = await h.session().run("go");
    const content = contentOf(r.messages[2]?.content[0]);
    expect(content).toBe(`${"x".repeat(1000)}\n[output truncated by Rein at 1000 bytes]`);
    expect(sink.ofType("tool_call_finished")[0]?.data.truncated).toBe(true);
  });

  it("caps a huge error message too", async () => {
    const loud = defineTool({
      name: "loud",
      description: "throws a novel",
      input: z.object({}),
      risk: { level: "LOW", reason: "t" },
      execute: () => {
        throw new Error("e".repeat(50_000));
      },
    });
    const h = scriptHarness([callTurn("loud"), { say: "ok" }], {
      tools: [loud],
      limits: { maxToolOutputBytes: 500 },
    });
    const r = await h.session().run("go");
    const err = errorOf(r.messages[2]?.content[0]);
    expect(err.type).toBe("tool_error");
    expect(err.message.length).toBeLessThan(600);
    expect(err.message.endsWith("… [truncated by Rein]")).toBe(true);
  });

  it("a BLOCK tool cannot be registered", () => {
    const blocked = defineTool({
      name: "format_disk",
      description: "never",
      input: z.object({}),
      risk: { level: "BLOCK", reason: "destroys the host" },
      execute: () => "",
    });
    expect(() => new ToolRegistry([blocked])).toThrow(/BLOCK tools can never be registered/);
    expect(() => scriptHarness([{ say: "x" }], { tools: [blocked] })).toThrow(
      expect.objectContaining({ code: "REIN_TOOL_BLOCKED" }),
    );
    expect(() => new ToolRegistry([echoTool, echoTool])).toThrow(
      expect.objectContaining({ code: "REIN_TOOL_DUPLICATE" }),
    );
  });

  it("a call the policy classifies BLOCK is refused at call time; a throwing policy fails closed", async () => {
    const policy: Policy = {
      name: "test",
      classify: ({ input }) => {
        const target = (input as { target: string }).target;
        if (target === "throw") throw new Error("rules file corrupt");
        return target === "/"
          ? { level: "BLOCK", reason: "destroys /", rule: "no-root" }
          : { level: "LOW", reason: "fine", rule: "ok" };
      },
    };
    const h = scriptHarness(
      [
        {
          tool_calls: [
            { tool: "nuke", input: { target: "/" } },
            { tool: "nuke", input: { target: "throw" } },
            { tool: "nuke", input: { target: "tmp" } },
          ],
        },
        { say: "ok" },
      ],
      { tools: [risky], policy },
    );
    const sink = recordingSink();
    const r = await h.session({ sinks: [sink] }).run("go");
    const [a, b, c] = r.messages[2]?.content ?? [];
    expect(errorOf(a)).toEqual({ type: "blocked", message: "Blocked by policy: destroys / (rule no-root)." });
    expect(errorOf(b).type).toBe("blocked");
    expect(errorOf(b).message).toContain('policy "test" failed: rules file corrupt');
    expect(contentOf(c)).toBe("nuked tmp");
    expect(sink.ofType("tool_call_started")).toHaveLength(1);
    expect(sink.ofType("tool_call_finished").map((e) => e.data.executed)).toEqual([false, false, true]);
  });

  it("an approval gate's denial returns permission_denied, and the script reacts to it", async () => {
    const asked: string[] = [];
    const gate = callbackGate((req) => {
      asked.push(`${req.tool}:${req.risk.level}:${req.argsHash.length}`);
      return { approve: false, reason: "not on a Friday" };
    });
    const h = scriptHarness(
      [
        {
          tool_calls: [
            { tool: "nuke", input: { target: "db" } },
            { tool: "echo", input: { text: "low" } },
          ],
        },
        { when: [{ if: { error: "permission_denied" }, say: "the harness said no" }], say: "it ran" },
      ],
      { tools: [risky, echoTool], approvals: { gate } },
    );
    const r = await h.session().run("go");
    expect(asked).toEqual(["nuke:HIGH:64"]);
    expect(errorOf(r.messages[2]?.content[0])).toEqual({
      type: "permission_denied",
      message: "Permission denied: not on a Friday",
    });
    expect(contentOf(r.messages[2]?.content[1])).toBe("low");
    expect(r.finalText).toBe("the harness said no");
  });

  it("an approval gate that throws or never answers denies (fail closed)", async () => {
    const throwing = callbackGate(() => {
      throw new Error("terminal closed");
    });
    const h = scriptHarness([callTurn("nuke", { target: "x" }), { say: "ok" }], {
      tools: [risky],
      approvals: { gate: throwing },
    });
    const r = await h.session().run("go");
    expect(errorOf(r.messages[2]?.content[0]).message).toContain(
      "gate failed: terminal closed (fail closed)",
    );

    // A gate that never answers, on a fake clock: the approval timeout fires when the clock passes it.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let asked!: () => void;
    const wasAsked = new Promise<void>((r) => {
      asked = r;
    });
    const silent = {
      name: "silent",
      decide: () => {
        asked();
        return new Promise<never>(() => {});
      },
    };
    const sink = recordingSink();
    const h2 = scriptHarness([callTurn("nuke", { target: "x" }), { say: "ok" }], {
      tools: [risky],
      approvals: { gate: silent, timeoutMs: 20 },
      sinks: [sink],
    });
    let r2: Awaited<ReturnType<ReturnType<typeof h2.session>["run"]>>;
    try {
      const running = h2.session().run("go");
      await wasAsked;
      await vi.advanceTimersByTimeAsync(19);
      expect(sink.ofType("tool_call_decided")).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      r2 = await running;
    } finally {
      vi.useRealTimers();
    }
    expect(errorOf(r2.messages[2]?.content[0]).type).toBe("permission_denied");
    expect(sink.ofType("tool_call_decided")[0]?.data.approval).toEqual({
      outcome: "timeout",
      by: "gate:silent",
      resolution: "denied",
    });
  });

  it("approved calls run; the decision is recorded", async () => {
    const sink = recordingSink();
    const h = scriptHarness([callTurn("nuke", { target: "x" }), { say: "ok" }], {
      tools: [risky],
      approvals: { gate: callbackGate(() => ({ approve: true })) },
      sinks: [sink],
    });
    const r = await h.session().run("go");
    expect(contentOf(r.messages[2]?.content[0])).toBe("nuked x");
    expect(sink.ofType("tool_call_decided")[0]?.data.approval).toEqual({
      outcome: "approved",
      by: "callback",
      scope: "once",
    });
  });

  it("hooks can deny or demand approval but a throwing hook fails closed", async () => {
    const h = scriptHarness(
      [
        {
          tool_calls: [
            { tool: "echo", input: { text: "secret" } },
            { tool: "echo", input: { text: "throw" } },
            { tool: "echo", input: { text: "ask" } },
            { tool: "echo", input: { text: "fine" } },
          ],
        },
        { say: "ok" },
      ],
      {
        tools: [echoTool],
        hooks: {
          beforeToolCall: (call) => {
            const text = (call.input as { text: string }).text;
            if (text === "secret") return { deny: "no secrets" };
            if (text === "throw") throw new Error("hook bug");
            if (text === "ask") return { requireApproval: true };
            return undefined;
          },
        },
      },
    );
    const r = await h.session().run("go");
    const [a, b, c, d] = r.messages[2]?.content ?? [];
    expect(errorOf(a)).toEqual({ type: "permission_denied", message: "no secrets" });
    expect(errorOf(b).message).toBe("beforeToolCall hook threw: hook bug (fail closed)");
    expect(errorOf(c).message).toMatch(
      /^Permission denied: this call needs approval and no approval gate is configured, so it is denied \(fail closed\)\. To allow such calls, configure a gate/,
    );
    expect(contentOf(d)).toBe("fine");
  });

  it("afterToolCall can redact what the model, events and audit see", async () => {
    const sink = recordingSink();
    const h = scriptHarness([callTurn("echo", { text: "key=sk-12345" }), { say: "ok" }], {
      tools: [echoTool],
      sinks: [sink],
      hooks: {
        afterToolCall: (_call, outcome) =>
          outcome.ok ? { ...outcome, content: outcome.content.replace(/sk-\d+/, "[REDACTED]") } : outcome,
      },
    });
    const r = await h.session().run("go");
    expect(contentOf(r.messages[2]?.content[0])).toBe("key=[REDACTED]");
    expect(sink.ofType("tool_call_finished")[0]?.data.content).toBe("key=[REDACTED]");
  });

  it("a result processor that throws withholds the result", async () => {
    const h = scriptHarness([callTurn("echo", { text: "x" }), { say: "ok" }], {
      tools: [echoTool],
      resultProcessors: [
        {
          name: "redactor",
          process: () => {
            throw new Error("regex engine down");
          },
        },
      ],
    });
    const r = await h.session().run("go");
    expect(errorOf(r.messages[2]?.content[0])).toEqual({
      type: "tool_error",
      message: 'The result was withheld: processor "redactor" failed.',
    });
  });

  it("guards can deny, raise the level to require approval, or stop the run with their own reason", async () => {
    const asked: string[] = [];
    const guard: Guard = {
      name: "test-guard",
      beforeToolCall: ({ input }) => {
        const text = (input as { text: string }).text;
        if (text === "deny") return { action: "deny", reason: "looks like a loop" };
        if (text === "raise") return { action: "raise", level: "HIGH", reason: "tainted context" };
        if (text === "stop")
          return { action: "stop", stop: { type: "stalled", diagnostic: "echo, echo, echo" } };
        return { action: "allow" };
      },
    };
    const h = scriptHarness(
      [
        {
          tool_calls: [
            { tool: "echo", input: { text: "deny" } },
            { tool: "echo", input: { text: "raise" } },
            { tool: "echo", input: { text: "stop" } },
          ],
        },
        { say: "never" },
      ],
      {
        tools: [echoTool],
        guards: [guard],
        approvals: {
          gate: callbackGate((req) => {
            asked.push(req.risk.reason);
            return { approve: true };
          }),
        },
      },
    );
    const r = await h.session().run("go");
    const [a, b, c] = r.messages[2]?.content ?? [];
    expect(errorOf(a)).toEqual({ type: "guard_denied", message: "looks like a loop" });
    expect(contentOf(b)).toBe("raise");
    expect(asked).toEqual(["pure; raised by test-guard: tainted context"]);
    expect(errorOf(c).type).toBe("guard_denied");
    expect(r.stopReason).toEqual({ type: "stalled", diagnostic: "echo, echo, echo" });
    expect(r.status).toBe("incomplete");
  });

  it("a throwing model hook ends the run with REIN_HOOK_FAILED (fail closed)", async () => {
    for (const hooks of [
      {
        beforeModelCall: () => {
          throw new Error("no budget service");
        },
      },
      {
        afterModelCall: () => {
          throw new Error("logger down");
        },
      },
    ]) {
      const h = scriptHarness([callTurn("echo", { text: "x" }), { say: "ok" }], { tools: [echoTool], hooks });
      const r = await h.session().run("go");
      expect(r.stopReason).toMatchObject({ type: "error", code: "REIN_HOOK_FAILED" });
      const calls = r.messages.flatMap((m) => m.content.filter((b) => b.type === "tool_use"));
      const results = r.messages.flatMap((m) => m.content.filter((b) => b.type === "tool_result"));
      expect(results.length).toBe(calls.length);
      for (const result of results) expect(errorOf(result).type).toBe("cancelled");
    }
  });

  it("a failing model call ends the run with an error stop reason, never a throw", async () => {
    const h = scriptHarness([{ fail: "overloaded" }]);
    const r = await h.session().run("go");
    expect(r.stopReason).toEqual({ type: "error", code: "REIN_MODEL_CALL_FAILED", message: "overloaded" });
    expect(r.status).toBe("failed");
  });

  it("an exhausted script ends the run with REIN_SCRIPT_EXHAUSTED", async () => {
    const h = scriptHarness([callTurn("echo", { text: "x" })], { tools: [echoTool] });
    const r = await h.session().run("go");
    expect(r.stopReason.type).toBe("error");
    expect(r.stopReason).toMatchObject({ code: "REIN_SCRIPT_EXHAUSTED" });
  });

  it("a malformed model response ends the run with REIN_MODEL_RESPONSE_INVALID", async () => {
    const model = {
      id: "scripted:broken",
      generate: async () =>
        ({
          content: [
            { type: "tool_use", id: "a", name: "echo", input: {} },
            { type: "tool_use", id: "a", name: "echo", input: {} },
          ],
          stopReason: "tool_use",
          usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 },
          model: "scripted:broken",
        }) as const,
    };
    const h = scriptHarness([], { model, tools: [echoTool] });
    const r = await h.session().run("go");
    expect(r.stopReason).toMatchObject({ type: "error", code: "REIN_MODEL_RESPONSE_INVALID" });
    expect((r.stopReason as { message: string }).message).toContain('tool_use id "a" appears twice');
  });

  it("a sink that fails (e.g. the audit cannot write) stops the run instead of running unaudited", async () => {
    const h = scriptHarness([{ ...callTurn("echo", { text: "x" }), repeat: 5 }, { say: "ok" }], {
      tools: [echoTool],
      sinks: [
        {
          name: "flaky-audit",
          handle: (e) => {
            if (e.type === "tool_call_finished")
              throw Object.assign(new Error("disk full"), { code: "REIN_AUDIT_WRITE_FAILED" });
          },
        },
      ],
    });
    const r = await h.session().run("go");
    expect(r.stopReason).toEqual({
      type: "error",
      code: "REIN_AUDIT_WRITE_FAILED",
      message: 'event sink "flaky-audit" failed: disk full',
    });
    expect(r.toolCalls).toBe(1);
  });
});

describe("tool-call pipeline: a decision costs no microtask when every stage answers synchronously", () => {
  /** Marks `decided` and `started`, and a microtask queued when the call was decided. */
  function tickSink(marks: string[]): EventSink {
    return {
      name: "ticks",
      handle(event) {
        if (event.type === "tool_call_decided") {
          marks.push("decided");
          queueMicrotask(() => marks.push("tick"));
        }
        if (event.type === "tool_call_started") marks.push("started");
      },
    };
  }

  it("synchronous stages: the call is decided and started in one synchronous stretch", async () => {
    const marks: string[] = [];
    const h = scriptHarness([callTurn("echo", { text: "a" }), { say: "ok" }], {
      tools: [echoTool],
      sinks: [tickSink(marks)],
    });
    const r = await h.session().run("go");
    expect(r.toolCalls).toBe(1);
    expect(marks).toEqual(["decided", "started", "tick"]);
  });

  it("an asynchronous hook: the decision waits for it, then the same call runs", async () => {
    const marks: string[] = [];
    const h = scriptHarness([callTurn("echo", { text: "a" }), { say: "ok" }], {
      tools: [echoTool],
      sinks: [tickSink(marks)],
      hooks: { beforeToolCall: async () => undefined },
    });
    const r = await h.session().run("go");
    expect(r.toolCalls).toBe(1);
    expect(contentOf(r.messages[2]?.content[0])).toBe("a");
    expect(marks).toEqual(["decided", "tick", "started"]);
  });
});
