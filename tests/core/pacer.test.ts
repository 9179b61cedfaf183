import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { Pacer, processPacer } from "../../src/core/pacer.js";
import { createHarness, defineTool, type ReinEvent } from "../../src/index.js";
import { scriptedModel } from "../../src/testing.js";

/** Counts turns of the event loop (one per check phase) until stopped. */
function loopTurns() {
  let turns = 0;
  let on = true;
  const tick = () => {
    turns++;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get now() {
      return turns;
    },
    stop() {
      on = false;
    },
  };
}

/** A clock the test moves by hand. */
function manualClock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("Pacer: sessions resuming at once share the event loop's turns", () => {
  it("within the slice's budget a resume goes on at once, with no promise", () => {
    const clock = manualClock();
    const pacer = new Pacer({ budgetMs: 5, now: clock.now });
    expect(pacer.admit()).toBeUndefined();
    clock.advance(4);
    expect(pacer.admit()).toBeUndefined();
    expect(pacer.waiting).toBe(0);
  });

  it("past the budget, resumes wait for later turns and run oldest first, a budget's worth per turn", async () => {
    const clock = manualClock();
    const pacer = new Pacer({ budgetMs: 5, now: clock.now });
    const turns = loopTurns();
    expect(pacer.admit()).toBeUndefined();
    clock.advance(5);
    const order: { id: number; turn: number }[] = [];
    const waits = Array.from({ length: 6 }, (_, id) => {
      const p = pacer.admit();
      expect(p).toBeInstanceOf(Promise);
      return p!.then(() => {
        order.push({ id, turn: turns.now });
        // Each resumed session works 2 ms of the clock: two fit in a 5 ms slice, the third starts a new turn.
        clock.advance(2);
      });
    });
    expect(pacer.waiting).toBe(6);
    await Promise.all(waits);
    turns.stop();
    expect(order.map((o) => o.id)).toEqual([0, 1, 2, 3, 4, 5]);
    // Three resumes per turn: at 0, 2 and 4 ms of the slice (the one past 5 ms waits for the next turn).
    const perTurn = new Map<number, number>();
    for (const o of order) perTurn.set(o.turn, (perTurn.get(o.turn) ?? 0) + 1);
    expect([...perTurn.values()]).toEqual([3, 3]);
    expect(pacer.waiting).toBe(0);
  });

  it("a resumed session's synchronous work and microtasks all run before the next one resumes", async () => {
    const pacer = new Pacer({ budgetMs: 1_000 });
    pacer.admit();
    // Queued behind a waiter: the budget is not what queues them here, the waiter before them is.
    const log: string[] = [];
    const first = new Promise<void>((resolve) => {
      // Force a queue: a budget of 0 for the first admit's slice.
      pacer.budgetMs = 0;
      const a = pacer.admit()!;
      const b = pacer.admit()!;
      pacer.budgetMs = 1_000;
      void a.then(async () => {
        log.push("a start");
        await Promise.resolve();
        await Promise.resolve();
        log.push("a after two awaits");
        process.nextTick(() => log.push("a tick"));
      });
      void b.then(() => {
        log.push("b start");
        resolve();
      });
    });
    await first;
    expect(log).toEqual(["a start", "a after two awaits", "a tick", "b start"]);
  });

  it("with a budget of 0 each turn resumes exactly one (the queue always drains, whatever the clock)", async () => {
    const pacer = new Pacer({ budgetMs: 0 });
    const turns = loopTurns();
    expect(pacer.admit()).toBeUndefined();
    const seen: number[] = [];
    await Promise.all(Array.from({ length: 5 }, () => pacer.admit()!.then(() => seen.push(turns.now))));
    turns.stop();
    expect(new Set(seen).size).toBe(5);
    expect(seen).toEqual([...seen].sort((x, y) => x - y));
  });

  it("fake timers installed after load do not hold the queue", async () => {
    const pacer = new Pacer({ budgetMs: 0 });
    vi.useFakeTimers();
    try {
      pacer.admit();
      const waits = [pacer.admit()!, pacer.admit()!];
      // Never advancing the fake clock: the pacer uses the real setImmediate captured at load.
      await expect(Promise.all(waits)).resolves.toEqual([undefined, undefined]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuses a budget that is not a finite number >= 0", () => {
    expect(() => new Pacer({ budgetMs: -1 })).toThrow(/budgetMs must be a finite number >= 0, got -1/);
    expect(() => new Pacer({ budgetMs: Number.NaN })).toThrow(/got NaN/);
    expect(() => {
      new Pacer().budgetMs = Number.POSITIVE_INFINITY;
    }).toThrow(/got Infinity/);
  });
});

describe("the harness's sessions are paced", () => {
  const saved = processPacer.budgetMs;
  afterEach(() => {
    processPacer.budgetMs = saved;
  });

  it("runs started together begin in successive turns of the event loop, and all complete with every call recorded", async () => {
    // Budget 0: one resume per turn, so the spreading does not depend on how fast this machine is.
    processPacer.budgetMs = 0;
    const turns = loopTurns();
    const started: { session: string; turn: number }[] = [];
    const act = defineTool({
      name: "act",
      description: "acts",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      execute: () => "ok",
    });
    const harness = createHarness({
      model: scriptedModel({
        name: "paced",
        turns: [{ tool_calls: [{ tool: "act", input: {} }], repeat: 2 }, { say: "done" }],
      }),
      tools: [act],
      audit: "memory",
      sinks: [
        {
          name: "turns",
          handle(e: ReinEvent) {
            if (e.type === "run_started") started.push({ session: e.sessionId, turn: turns.now });
          },
        },
      ],
    });
    const sessions = Array.from({ length: 20 }, () => harness.session());
    const results = await Promise.all(sessions.map((s) => s.run("go")));
    turns.stop();
    for (const r of results) {
      expect(r.status).toBe("completed");
      expect(r.toolCalls).toBe(2);
    }
    // Without pacing all twenty would start in the turn that called run(); paced, one per turn.
    expect(new Set(started.map((s) => s.turn)).size).toBe(20);
    // In the order run() was called.
    expect(started.map((s) => s.session)).toEqual(sessions.map((s) => s.id));
    for (const s of sessions) {
      const events = harness.eventLog.read({ tenantId: "local", sessionId: s.id }, 0);
      expect(events.filter((e) => e.type === "tool_call_finished")).toHaveLength(2);
      expect(events.at(-1)?.type).toBe("run_ended");
      expect(harness.auditTrail(s.id)?.records).toBe(2);
    }
    expect(processPacer.waiting).toBe(0);
  });
});
