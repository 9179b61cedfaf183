import { createHook } from "node:async_hooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { DEFAULT_LIMITS, defineTool, type ReinEvent } from "../../src/index.js";
import { recordingSink } from "../../src/testing.js";
import { callTurn, contentOf, deferred, echoTool, scriptHarness } from "../helpers.js";

/**
 * Time limits are tested on a fake clock: only setTimeout is faked (the limits' and the scripted
 * model's timers), so a limit fires exactly when the test moves the clock past it, never because
 * the machine was slow.
 */
const fakeClock = () => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });

/** Tracks whether a promise has settled, to assert that it has not yet. */
function settles<T>(promise: Promise<T>): { readonly settled: boolean; promise: Promise<T> } {
  const state = { settled: false, promise };
  promise.then(
    () => {
      state.settled = true;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}

afterEach(() => {
  vi.useRealTimers();
});

const loop = (n: number) => [{ ...callTurn("echo", { text: "again" }), repeat: n }, { say: "finished" }];

describe("limits", () => {
  it("stops at max turns with a typed reason, after a warning at 2/3 of the limit", async () => {
    const sink = recordingSink();
    const h = scriptHarness(loop(100), { tools: [echoTool], limits: { maxTurns: 9 }, sinks: [sink] });
    const result = await h.session().run("loop");
    expect(result.stopReason).toEqual({ type: "max_turns", limit: 9 });
    expect(result.status).toBe("incomplete");
    expect(result.turns).toBe(9);
    expect(sink.ofType("limit_warning").map((e) => e.data)).toEqual([
      { limit: "max_turns", turn: 6, max: 9 },
    ]);
    // The history stays valid: the last tool_use has its result.
    expect(result.messages.at(-1)?.role).toBe("user");
  });

  it("warns at a configured fraction", async () => {
    const sink = recordingSink();
    const h = scriptHarness(loop(100), {
      tools: [echoTool],
      limits: { maxTurns: 10, warnAtFraction: 0.5 },
      sinks: [sink],
    });
    await h.session().run("loop");
    expect(sink.ofType("limit_warning").map((e) => e.data.turn)).toEqual([5]);
  });

  it("times out a slow model call", async () => {
    fakeClock();
    const sink = recordingSink();
    const h = scriptHarness([{ delay_ms: 60_000, say: "too late" }], {
      limits: { modelCallTimeoutMs: 30 },
      sinks: [sink],
    });
    const run = settles(h.session().run("go"));
    await vi.advanceTimersByTimeAsync(29);
    expect(run.settled).toBe(false);
    expect(sink.ofType("model_call_started")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    const result = await run.promise;
    expect(result.stopReason).toEqual({ type: "timeout", scope: "model_call", limitMs: 30 });
    expect(result.status).toBe("incomplete");
  });

  it("times out a tool, returns a timeout result to the model, and the run continues", async () => {
    fakeClock();
    let aborted = false;
    const started = deferred();
    const hang = defineTool({
      name: "hang",
      description: "never finishes unless aborted",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      execute: (_input, ctx) =>
        new Promise((_, reject) => {
          started.resolve();
          ctx.signal.addEventListener("abort", () => {
            aborted = true;
            reject(new Error("aborted"));
          });
        }),
    });
    const h = scriptHarness(
      [callTurn("hang"), { when: [{ if: { error: "timeout" }, say: "it timed out" }], say: "no timeout?" }],
      { tools: [hang], limits: { toolTimeoutMs: 25 } },
    );
    const run = settles(h.session().run("go"));
    await started.promise;
    await vi.advanceTimersByTimeAsync(24);
    expect(aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const result = await run.promise;
    expect(aborted).toBe(true);
    expect(result.stopReason.type).toBe("completed");
    expect(result.finalText).toBe("it timed out");
    const block = result.messages[2]?.content[0];
    expect(block).toMatchObject({ type: "tool_result", is_error: true });
    expect(JSON.parse(contentOf(block))).toEqual({
      error: { type: "timeout", message: 'Tool "hang" did not finish within 25 ms and was aborted.' },
    });
  });

  it("a tool that ignores its signal still times out (its promise is abandoned, not awaited)", async () => {
    fakeClock();
    const started = deferred();
    const deaf = defineTool({
      name: "deaf",
      description: "ignores abort",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      timeoutMs: 20,
      execute: () => {
        started.resolve();
        return new Promise(() => {});
      },
    });
    const h = scriptHarness([callTurn("deaf"), { say: "after" }], { tools: [deaf] });
    const run = settles(h.session().run("go"));
    await started.promise;
    await vi.advanceTimersByTimeAsync(19);
    expect(run.settled).toBe(false);
    // At 20 ms its signal aborts; it is then given the abort grace to stop, and never does.
    await vi.advanceTimersByTimeAsync(1 + DEFAULT_LIMITS.abortGraceMs - 1);
    expect(run.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const result = await run.promise;
    expect(result.finalText).toBe("after");
    expect(result.messages[2]?.content[0]).toMatchObject({ is_error: true });
  });

  it("ends the run at the session wall-clock timeout, aborting the tool in flight", async () => {
    fakeClock();
    const started = deferred();
    let toolSignal: AbortSignal | undefined;
    const wait = defineTool({
      name: "wait",
      description: "waits for abort",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      execute: (_i, ctx) => {
        toolSignal = ctx.signal;
        started.resolve();
        return new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => reject(new Error("stop"))),
        );
      },
    });
    const h = scriptHarness([callTurn("wait"), { say: "never" }], {
      tools: [wait],
      limits: { runTimeoutMs: 40 },
    });
    const run = settles(h.session().run("go"));
    await started.promise;
    await vi.advanceTimersByTimeAsync(39);
    expect(toolSignal?.aborted).toBe(false);
    expect(run.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const result = await run.promise;
    expect(toolSignal?.aborted).toBe(true);
    expect(result.stopReason).toEqual({ type: "timeout", scope: "run", limitMs: 40 });
    const content = contentOf(result.messages.at(-1)?.content[0]);
    expect(JSON.parse(content).error.type).toBe("cancelled");
  });

  it("cancel() aborts the in-flight model call", async () => {
    const h = scriptHarness([{ delay_ms: 60_000, say: "never" }]);
    const session = h.session();
    const stream = session.stream("go");
    const types: string[] = [];
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === "model_call_started") session.cancel("user pressed stop");
    }
    const result = await stream.result;
    expect(result.stopReason).toEqual({ type: "cancelled", reason: "user pressed stop" });
    expect(result.status).toBe("cancelled");
    expect(types).not.toContain("model_call_finished");
    expect(types.at(-1)).toBe("run_ended");
  });

  it("cancel() aborts the tool in flight and the history keeps a result for every tool call", async () => {
    const started = deferred<AbortSignal>();
    const wait = defineTool({
      name: "wait",
      description: "waits",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      execute: (_i, ctx) => {
        started.resolve(ctx.signal);
        return new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => reject(new Error("stop"))),
        );
      },
    });
    const h = scriptHarness([{ tool_calls: [{ tool: "wait" }, { tool: "wait" }] }, { say: "never" }], {
      tools: [wait],
    });
    const session = h.session();
    const running = session.run("go");
    const signal = await started.promise;
    session.cancel("enough");
    const result = await running;
    expect(signal.aborted).toBe(true);
    expect(result.stopReason).toEqual({ type: "cancelled", reason: "enough" });
    const results = result.messages.at(-1)?.content ?? [];
    expect(results).toHaveLength(2);
    for (const r of results) expect(JSON.parse(contentOf(r)).error.type).toBe("cancelled");
  });

  it("an external AbortSignal cancels the run", async () => {
    const h = scriptHarness([{ delay_ms: 60_000, say: "never" }]);
    const controller = new AbortController();
    const session = h.session();
    const stream = session.stream("go", { signal: controller.signal });
    for await (const e of stream) if (e.type === "model_call_started") controller.abort("caller gave up");
    expect((await stream.result).stopReason).toEqual({ type: "cancelled", reason: "caller gave up" });
  });

  it("breaking out of stream() cancels the run", async () => {
    const h = scriptHarness([{ delay_ms: 60_000, say: "never" }]);
    const session = h.session();
    const stream = session.stream("go");
    for await (const e of stream) if (e.type === "model_call_started") break;
    const result = await stream.result;
    expect(result.stopReason.type).toBe("cancelled");
    expect(session.running).toBe(false);
  });

  it("leaves no timer or abort listener behind", async () => {
    // Every timer created while the run is in flight, and whether it is still pending at the end
    // (the run waits for its audit writes, so the test runner's own timers may fire meanwhile: only
    // what was created during the run counts).
    const created = new Map<number, { hasRef(): boolean; _destroyed?: boolean }>();
    const hook = createHook({
      init(id, type, _trigger, resource) {
        if (type === "Timeout") created.set(id, resource as { hasRef(): boolean; _destroyed?: boolean });
      },
    }).enable();
    const h = scriptHarness(loop(50), { tools: [echoTool] });
    const events: ReinEvent[] = [];
    const session = h.session();
    const stream = session.stream("go");
    try {
      for await (const e of stream) events.push(e);
      await stream.result;
    } finally {
      hook.disable();
    }
    const pending = [...created.values()].filter((t) => t._destroyed !== true);
    expect(created.size).toBeGreaterThan(0); // the probe sees the run's timers (model and tool timeouts)
    expect(pending).toEqual([]);
    expect(events.at(-1)?.type).toBe("run_ended");
  });
});
