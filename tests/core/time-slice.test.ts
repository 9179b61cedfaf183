import { afterEach, describe, expect, it, vi } from "vitest";
import { processTimeSlice, TimeSlice } from "../../src/core/time-slice.js";
import type { ReinEvent } from "../../src/index.js";
import { callTurn, echoTool, loopTurns, scriptHarness } from "../helpers.js";

/** A script whose model never waits: `n` turns of one tool call, then an answer. */
const busyLoop = (n: number) => [{ ...callTurn("echo", { text: "again" }), repeat: n }, { say: "finished" }];

describe("TimeSlice: runs give the event loop back once a slice's budget is spent", () => {
  it("within the budget an ask goes on at once, with no promise", () => {
    const slice = new TimeSlice(60_000);
    expect(slice.pass()).toBeUndefined();
    expect(slice.pass()).toBeUndefined();
    expect(slice.waiting).toBe(0);
  });

  it("past the budget, asks wait for later turns of the event loop and resume oldest first", async () => {
    // Budget 0: every ask after the first of a slice waits, and each turn resumes exactly one.
    const slice = new TimeSlice(0);
    const turns = loopTurns();
    expect(slice.pass()).toBeUndefined();
    const order: { id: number; turn: number }[] = [];
    const waits = Array.from({ length: 5 }, (_, id) => {
      const p = slice.pass();
      expect(p).toBeInstanceOf(Promise);
      return p!.then(() => order.push({ id, turn: turns.now }));
    });
    expect(slice.waiting).toBe(5);
    await Promise.all(waits);
    turns.stop();
    expect(order.map((o) => o.id)).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(order.map((o) => o.turn)).size).toBe(5);
    expect(slice.waiting).toBe(0);
  });

  it("a resumed run's synchronous work and microtasks all run before the next one resumes", async () => {
    const slice = new TimeSlice(0);
    slice.pass();
    const a = slice.pass()!;
    const b = slice.pass()!;
    slice.budgetMs = 60_000;
    const log: string[] = [];
    void a.then(async () => {
      log.push("a start");
      await Promise.resolve();
      await Promise.resolve();
      log.push("a after two awaits");
      process.nextTick(() => log.push("a tick"));
    });
    await b.then(() => log.push("b start"));
    expect(log).toEqual(["a start", "a after two awaits", "a tick", "b start"]);
  });

  it("fake timers installed after load do not hold the queue", async () => {
    const slice = new TimeSlice(0);
    vi.useFakeTimers();
    try {
      slice.pass();
      const waits = [slice.pass()!, slice.pass()!];
      // The fake clock never moves: the slices use the real setImmediate, taken at load.
      await expect(Promise.all(waits)).resolves.toEqual([undefined, undefined]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuses a budget that is not a finite number >= 0", () => {
    expect(() => new TimeSlice(-1)).toThrow(/budgetMs must be a finite number >= 0, got -1/);
    expect(() => new TimeSlice(Number.NaN)).toThrow(/got NaN/);
    expect(() => {
      new TimeSlice().budgetMs = Number.POSITIVE_INFINITY;
    }).toThrow(/got Infinity/);
  });
});

describe("a run cannot monopolise the event loop", () => {
  const saved = processTimeSlice.budgetMs;
  afterEach(() => {
    processTimeSlice.budgetMs = saved;
  });

  // Without slices each of these runs would play all its turns in one turn of the event loop (its
  // model never waits, its tool answers at once): the timer could only fire after the run ended.
  const TURNS = 20_000;

  it("an abort from a timer set before the run stops it mid-run, every tool_use answered", async () => {
    const h = scriptHarness(busyLoop(TURNS), {
      tools: [echoTool],
      audit: "memory",
      limits: { maxTurns: TURNS + 1 },
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort("the timer fired"), 0);
    const result = await h.session().run("loop", { signal: controller.signal });
    expect(result.stopReason).toEqual({ type: "cancelled", reason: "the timer fired" });
    expect(result.turns).toBeLessThan(TURNS);
    const uses = result.messages.flatMap((m) =>
      m.role === "assistant" ? m.content.filter((b) => b.type === "tool_use").map((b) => b.id) : [],
    );
    const answered = result.messages.flatMap((m) =>
      m.role === "user" ? m.content.flatMap((b) => (b.type === "tool_result" ? [b.tool_use_id] : [])) : [],
    );
    expect(answered).toEqual(uses);
  });

  it("the run's wall-clock timeout fires while its model never waits", async () => {
    const h = scriptHarness(busyLoop(TURNS), {
      tools: [echoTool],
      audit: "memory",
      limits: { maxTurns: TURNS + 1, runTimeoutMs: 1 },
    });
    const result = await h.session().run("loop");
    expect(result.stopReason).toEqual({ type: "timeout", scope: "run", limitMs: 1 });
    expect(result.turns).toBeLessThan(TURNS);
  });

  it("a run waits after a model answer only: from its results to its next model call it never yields", async () => {
    // Budget 0: every ask past a slice's first waits for a later turn. A run that also asked at the
    // start of each step started its next model call (its next wait) behind every queued run, and
    // with a thousand sessions the waits stopped overlapping the other runs' work (time-slice.ts).
    processTimeSlice.budgetMs = 0;
    const turns = loopTurns();
    // Per session: the turn of the loop its last tool result was recorded in; then, for each next
    // model call, whether the loop gave a turn in between.
    const resultAt = new Map<string, number>();
    let pairs = 0;
    let yielded = 0;
    const sink = {
      name: "turns",
      handle(e: ReinEvent) {
        if (e.type === "tool_call_finished") resultAt.set(e.sessionId, turns.now);
        if (e.type !== "model_call_started" || !resultAt.has(e.sessionId)) return;
        pairs++;
        if (resultAt.get(e.sessionId) !== turns.now) yielded++;
        resultAt.delete(e.sessionId);
      },
    };
    const h = scriptHarness(busyLoop(4), { tools: [echoTool], audit: "memory", sinks: [sink] });
    const runs = await Promise.all([h.session().run("first"), h.session().run("second")]);
    turns.stop();
    expect(runs.map((r) => r.toolCalls)).toEqual([4, 4]);
    expect(pairs).toBe(8);
    expect(yielded).toBe(0);
    // …and each model answer did wait for a later turn (two runs, budget 0).
    expect(processTimeSlice.turns).toBeGreaterThan(0);
  });

  it("runs started together leave turns to other callbacks: one queued before them runs mid-way", async () => {
    // Budget 0: a run waits at every step, so the order follows the queue, not the machine's speed.
    processTimeSlice.budgetMs = 0;
    let modelCalls = 0;
    const sink = {
      name: "count",
      handle(e: ReinEvent) {
        if (e.type === "model_call_started") modelCalls++;
      },
    };
    const h = scriptHarness(busyLoop(5), { tools: [echoTool], audit: "memory", sinks: [sink] });
    let callsWhenServed: number | undefined;
    setImmediate(() => {
      callsWhenServed = modelCalls;
    });
    const results = await Promise.all([h.session().run("first"), h.session().run("second")]);
    expect(results.map((r) => [r.stopReason.type, r.toolCalls])).toEqual([
      ["completed", 5],
      ["completed", 5],
    ]);
    expect(modelCalls).toBe(12);
    // Served within the runs' first steps (each turn resumes one step), long before their last.
    expect(callsWhenServed).toBeLessThan(4);
  });
});
