import { describe, expect, it } from "vitest";
import { createHarness, type Ledger, MemoryLedger, type ReinEvent, scriptedModel } from "../../src/index.js";
import { callTurn, collect, echoTool } from "../helpers.js";

/** A ledger without the `sessionCostUsd` accessor (as a third-party one may be): the loop reads its totals. */
function totalsOnlyLedger(inner: MemoryLedger): Ledger {
  return {
    reserve: (s, e) => inner.reserve(s, e),
    settle: (s, k, a) => inner.settle(s, k, a),
    release: (s, k) => inner.release(s, k),
    totals: (s) => inner.totals(s),
    usageOf: (s, a) => inner.usageOf(s, a),
  };
}

const price = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 };

/** Two runs of one session (three model calls each) with a priced model; the events of both. */
async function twoRuns(ledger: Ledger, budget: boolean): Promise<{ events: ReinEvent[]; sessionId: string }> {
  const model = scriptedModel({
    name: "priced",
    // The script runs on across the session's runs: three calls each.
    turns: [0, 1].flatMap((run) => [
      { ...callTurn("echo", { text: "a" }), usage: { input_tokens: 1_234 + run, output_tokens: 17 } },
      { ...callTurn("echo", { text: "b" }), usage: { input_tokens: 2_345, output_tokens: 29 + run } },
      { say: "done", usage: { input_tokens: 3_456, output_tokens: 7 } },
    ]),
  });
  const h = createHarness({
    model,
    audit: false,
    tools: [echoTool],
    ledger,
    pricing: { overrides: { [model.id]: price } },
    ...(budget ? { guards: { budget: { session: { maxCostUsd: 1_000 } } } } : {}),
  });
  const session = h.session();
  const events = [...(await collect(session.stream("one"))), ...(await collect(session.stream("two")))];
  await session.close();
  return { events, sessionId: session.id };
}

function costs(events: ReinEvent[]): { turn: number[]; session: number[]; runs: number[] } {
  const turn: number[] = [];
  const session: number[] = [];
  const runs: number[] = [];
  for (const e of events) {
    if (e.type === "model_call_finished") {
      turn.push(e.data.costUsd);
      session.push(e.data.sessionCostUsd);
    } else if (e.type === "run_ended") runs.push(e.data.costUsd);
  }
  return { turn, session, runs };
}

describe("a model call's sessionCostUsd is the ledger's settled spend of the session", () => {
  it("is the running sum of the calls' costs, the same whether the ledger has the accessor or only totals, with or without a budget", async () => {
    const seen: number[][] = [];
    for (const budget of [false, true]) {
      for (const accessor of [true, false]) {
        const inner = new MemoryLedger();
        const { events, sessionId } = await twoRuns(accessor ? inner : totalsOnlyLedger(inner), budget);
        const { turn, session, runs } = costs(events);
        expect(turn).toHaveLength(6);
        let sum = 0;
        // The ledger adds each settled cost in call order: the same sums, to the last bit.
        const expected = turn.map((c) => {
          sum += c;
          return sum;
        });
        expect(session).toEqual(expected);
        expect(sum).toBeGreaterThan(0);
        const tenantId = events[0]!.tenantId;
        expect(session.at(-1)).toBe(inner.totals({ tenantId, sessionId }).costUsd);
        expect(runs).toHaveLength(2);
        expect(runs[0]).toBe(session[2]);
        expect(runs[1]).toBeCloseTo(session[5]! - session[2]!, 12);
        seen.push(session);
      }
    }
    for (const s of seen) expect(s).toEqual(seen[0]);
  });
});
