import { describe, expect, it } from "vitest";
import { z } from "zod";
import { processTimeSlice } from "../../src/core/time-slice.js";
import {
  createHarness,
  defineTool,
  type Ledger,
  MemoryLedger,
  type Model,
  type ModelRequest,
} from "../../src/index.js";
import { recordingSink, scriptedModel } from "../../src/testing.js";
import { echoTool } from "../helpers.js";

/** USD per million tokens: input $1, output $2. */
const PRICE = { input: 1, output: 2, cacheRead: 0.1, cacheWrite: 1 };
const pricing = { overrides: { "scripted:priced": PRICE } };

/** A priced scripted model that counts the calls actually made to it. */
function pricedModel(turns: unknown[]) {
  const inner = scriptedModel({ name: "priced", turns });
  const made: number[] = [];
  const model: Model = {
    id: inner.id,
    generate(request: ModelRequest) {
      made.push(request.messages.length);
      return inner.generate(request);
    },
  };
  return { model, made };
}

const loopTurns = (n: number) => [
  {
    tool_calls: [{ tool: "echo", input: { text: "x" } }],
    usage: { input_tokens: 400, output_tokens: 300 },
    repeat: n,
  },
  { say: "done", usage: { input_tokens: 400, output_tokens: 10 } },
];

describe("budgets are enforced by reservation, before the call", () => {
  it("a run ceiling stops the run with cost_ceiling before the model call that could cross it", async () => {
    const { model, made } = pricedModel(loopTurns(50));
    const sink = recordingSink();
    const h = createHarness({
      model,
      pricing,
      tools: [echoTool],
      maxTokens: 1000,
      audit: false,
      limits: { maxCostUsd: 0.01 },
      sinks: [sink],
    });
    const r = await h.session().run("loop");
    expect(r.stopReason).toMatchObject({ type: "cost_ceiling", budget: "run", limitUsd: 0.01 });
    const stop = r.stopReason as { spentUsd: number; diagnostic: string };
    // Never after: the spend is under the ceiling, and the refused call was never made or announced.
    expect(r.costUsd).toBeLessThanOrEqual(0.01);
    expect(stop.spentUsd).toBeCloseTo(r.costUsd, 10);
    expect(made).toHaveLength(r.turns - 1);
    expect(sink.ofType("model_call_started")).toHaveLength(made.length);
    expect(stop.diagnostic).toMatch(
      new RegExp(
        `^model call ${r.turns} was refused before it was made: .* would cross the run budget's \\$0.01 ceiling$`,
      ),
    );
    // Each call costs 400 * $1/M + 300 * $2/M = $0.001: it stopped because the next worst case did not fit.
    expect(made.length).toBeGreaterThan(3);
    expect(h.ledger.totals({ tenantId: "local", sessionId: r.sessionId }).reservedUsd).toBe(0);
  });

  it("a token ceiling counts input, output and cache tokens and stops the same way", async () => {
    const { model, made } = pricedModel(loopTurns(50));
    const h = createHarness({
      model,
      pricing,
      tools: [echoTool],
      maxTokens: 500,
      audit: false,
      limits: { maxTokens: 5000 },
    });
    const r = await h.session().run("loop");
    expect(r.stopReason).toMatchObject({
      type: "cost_ceiling",
      budget: "run",
      limitUsd: null,
      limitTokens: 5000,
    });
    const used = r.usage.inputTokens + r.usage.outputTokens;
    expect(used).toBeLessThanOrEqual(5000);
    expect(made.length).toBe(used / 700);
  });

  it("a session ceiling holds across runs; the run ceiling starts again at each run", async () => {
    const { model } = pricedModel([...loopTurns(3), ...loopTurns(3), ...loopTurns(3)]);
    const h = createHarness({
      model,
      pricing,
      tools: [echoTool],
      maxTokens: 100,
      audit: false,
      guards: { budget: { run: { maxCostUsd: 0.0045 }, session: { maxCostUsd: 0.007 } } },
    });
    const s = h.session();
    const first = await s.run("one");
    expect(first.stopReason).toEqual({ type: "completed" }); // 4 calls, $0.0031
    const second = await s.run("two");
    expect(second.stopReason).toMatchObject({ type: "cost_ceiling", budget: "session", limitUsd: 0.007 });
    expect(first.costUsd + second.costUsd).toBeLessThanOrEqual(0.007);
  });

  it("warns once at 50 % by default, and at each configured fraction", async () => {
    const run = async (warnAt?: number[]) => {
      const { model } = pricedModel(loopTurns(40));
      const sink = recordingSink();
      const h = createHarness({
        model,
        pricing,
        tools: [echoTool],
        maxTokens: 100,
        audit: false,
        sinks: [sink],
        guards: { budget: { run: { maxCostUsd: 0.02 }, ...(warnAt ? { warnAt } : {}) } },
      });
      await h.session().run("loop");
      return sink.ofType("budget_warning").map((e) => e.data);
    };
    const defaults = await run();
    expect(defaults).toHaveLength(1);
    expect(defaults[0]).toMatchObject({ budget: "run", fraction: 0.5, limitUsd: 0.02 });
    expect(defaults[0]!.spentUsd).toBeGreaterThanOrEqual(0.01);
    expect(defaults[0]!.spentUsd).toBeLessThan(0.0115);
    const configured = await run([0.75, 0.25]);
    expect(configured.map((w) => w.fraction)).toEqual([0.25, 0.75]);
  });

  it("a tool that declares a cost draws it from the same ledger and budget; a refused one never runs", async () => {
    const ran: string[] = [];
    const paid = defineTool({
      name: "lookup",
      description: "a paid API",
      input: z.object({ q: z.string() }),
      risk: { level: "LOW", reason: "read-only lookup" },
      costUsd: ({ q }) => (q === "expensive" ? 0.5 : 0.01),
      execute: ({ q }) => {
        ran.push(q);
        return `answer to ${q}`;
      },
    });
    const { model } = pricedModel([
      { tool_calls: [{ tool: "lookup", input: { q: "cheap" } }] },
      { tool_calls: [{ tool: "lookup", input: { q: "expensive" } }] },
      { say: "unreachable" },
    ]);
    const h = createHarness({
      model,
      pricing,
      tools: [paid],
      maxTokens: 10,
      audit: false,
      limits: { maxCostUsd: 0.1 },
    });
    const r = await h.session().run("look up");
    expect(ran).toEqual(["cheap"]);
    expect(r.costUsd).toBeCloseTo(0.01, 4); // the model calls themselves cost ~$0 here (usage 0)
    expect(r.stopReason).toMatchObject({ type: "cost_ceiling", budget: "run", limitUsd: 0.1 });
    expect((r.stopReason as { diagnostic: string }).diagnostic).toMatch(
      /^tool call lookup \(\$0.5\) was refused/,
    );
    const refused = JSON.parse((r.messages[4]!.content[0] as { content: string }).content);
    expect(refused.error.type).toBe("guard_denied");
  });

  it("a tool cost that cannot be computed denies the call (fail closed)", async () => {
    const ran: number[] = [];
    const broken = defineTool({
      name: "broken",
      description: "cost throws",
      input: z.object({}),
      risk: { level: "LOW", reason: "x" },
      costUsd: () => {
        throw new Error("no quote");
      },
      execute: () => ran.push(1),
    });
    const { model } = pricedModel([{ tool_calls: [{ tool: "broken" }] }, { say: "ok" }]);
    const r = await createHarness({ model, pricing, tools: [broken], audit: false })
      .session()
      .run("go");
    expect(ran).toEqual([]);
    expect((r.messages[2]!.content[0] as { content: string }).content).toMatch(
      /could not be computed \(no quote; fail closed\)/,
    );
  });

  it("100 concurrent sessions on one shared budget never overspend it, in every round", async () => {
    const ceiling = 0.05;
    const ledger = new MemoryLedger();
    for (let round = 0; round < 10; round++) {
      let seed = round + 1;
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      // Honest usage: output within maxTokens, input within the loop's estimate (the worst case holds).
      const inner = scriptedModel({
        name: "priced",
        turns: [
          {
            tool_calls: [{ tool: "echo", input: { text: "x" } }],
            usage: { input_tokens: 20, output_tokens: 150 },
            repeat: 30,
          },
          { say: "done", usage: { input_tokens: 20, output_tokens: 10 } },
        ],
      });
      // Each call yields to the event loop a random number of times, so the 100 sessions interleave.
      const model: Model = {
        id: inner.id,
        async generate(request) {
          for (let i = Math.floor(random() * 4); i > 0; i--) await new Promise((r) => setImmediate(r));
          return inner.generate(request);
        },
      };
      const h = createHarness({
        model,
        pricing,
        ledger,
        tenantId: `round${round}`,
        tools: [echoTool],
        maxTokens: 200,
        audit: false,
        guards: { budget: { shared: { name: "team", maxCostUsd: ceiling } } },
      });
      let maxSeen = 0;
      const watch = {
        name: "watch",
        handle: () => {
          maxSeen = Math.max(
            maxSeen,
            ledger.usageOf({ tenantId: `round${round}`, sessionId: "-" }, "budget:team").costUsd,
          );
        },
      };
      const sessions = Array.from({ length: 100 }, () => h.session({ sinks: [watch] }));
      const results = await Promise.all(sessions.map((s) => s.run("spend")));
      const team = ledger.usageOf({ tenantId: `round${round}`, sessionId: "-" }, "budget:team");
      expect(team.costUsd).toBeLessThanOrEqual(ceiling);
      expect(maxSeen).toBeLessThanOrEqual(ceiling);
      expect(team.reservedUsd).toBeCloseTo(0, 12);
      // The budget bound: most sessions were stopped by it, before their call.
      const stopped = results.filter((r) => r.stopReason.type === "cost_ceiling");
      expect(stopped.length).toBeGreaterThan(50);
      expect(stopped.every((r) => (r.stopReason as { budget: string }).budget === "budget:team")).toBe(true);
      // And it was nearly used up: what is left is less than one more call's worst case.
      expect(ceiling - team.costUsd).toBeLessThan(0.002);
    }
  });
});

describe("a model that reserves each attempt itself (the gateway)", () => {
  it("an attempt the budget refuses is never sent, and the run stops with cost_ceiling", async () => {
    const inner = scriptedModel({ name: "priced", turns: loopTurns(50) });
    const sent: number[] = [];
    const model: Model = {
      id: inner.id,
      accountsAttempts: true,
      async generate(request) {
        const ticket = request.attempts!.begin(inner.id); // throws when the budget refuses: nothing is sent
        sent.push(request.messages.length);
        const response = await inner.generate(request);
        ticket.end(response.usage, response.model);
        return response;
      },
    };
    const h = createHarness({
      model,
      pricing,
      tools: [echoTool],
      maxTokens: 1000,
      audit: false,
      limits: { maxCostUsd: 0.01 },
    });
    const r = await h.session().run("loop");
    expect(r.stopReason).toMatchObject({ type: "cost_ceiling", budget: "run", limitUsd: 0.01 });
    expect((r.stopReason as { diagnostic: string }).diagnostic).toMatch(
      /^model call \d+ \(attempt 1, scripted:priced\) was refused/,
    );
    expect(r.costUsd).toBeLessThanOrEqual(0.01);
    expect(sent).toHaveLength(r.turns - 1);
    expect(h.ledger.totals({ tenantId: "local", sessionId: r.sessionId }).reservedUsd).toBe(0);
  });
});

describe("the race test can fail", () => {
  it("a check-then-reserve budget (not atomic) overspends under the same race", async () => {
    const ledger = new MemoryLedger();
    const inner = scriptedModel({
      name: "priced",
      turns: [
        {
          tool_calls: [{ tool: "echo", input: { text: "x" } }],
          usage: { input_tokens: 20, output_tokens: 150 },
          repeat: 30,
        },
        { say: "done" },
      ],
    });
    const model: Model = { id: inner.id, generate: (r) => inner.generate(r) };
    // Checks spent + reserved, then yields before the loop reserves: another session gets in between.
    const naive = {
      name: "naive",
      async beforeModelCall(ctx: { tenantId: string }) {
        const t = ledger.totals({ tenantId: ctx.tenantId });
        const over = t.costUsd + t.reservedUsd + 0.0005 > 0.05;
        await new Promise((r) => setImmediate(r));
        return over
          ? ({ action: "stop", stop: { type: "cost_ceiling", limitUsd: 0.05, spentUsd: t.costUsd } } as const)
          : ({ action: "allow" } as const);
      },
    };
    const h = createHarness({
      model,
      pricing,
      ledger,
      tools: [echoTool],
      maxTokens: 200,
      audit: false,
      guards: [naive],
    });
    // The race needs every session's check in the same turn of the event loop: the loop's time
    // slices (core/time-slice.ts) would otherwise spread the sessions over turns as fast as this
    // machine happens to run them, and whether they still race would depend on its speed.
    const budgetMs = processTimeSlice.budgetMs;
    processTimeSlice.budgetMs = 60_000;
    try {
      await Promise.all(Array.from({ length: 100 }, () => h.session().run("spend")));
    } finally {
      processTimeSlice.budgetMs = budgetMs;
    }
    expect(ledger.totals({ tenantId: "local" }).costUsd).toBeGreaterThan(0.05);
  });
});

describe("ledger and configuration errors", () => {
  it("refuses atomically: a refused reservation reserves nothing", () => {
    const ledger = new MemoryLedger();
    const s = { tenantId: "t", sessionId: "a" };
    const ceilings = [{ account: "session" as const, maxCostUsd: 1 }];
    expect(ledger.reserve(s, { key: "1", model: "m", estimateUsd: 0.6, ceilings })).toBeUndefined();
    expect(ledger.reserve(s, { key: "2", model: "m", estimateUsd: 0.6, ceilings })).toMatchObject({
      refused: true,
      account: "session",
      limitUsd: 1,
      reservedUsd: 0.6,
      estimateUsd: 0.6,
    });
    expect(ledger.usageOf(s, "session").reservedUsd).toBeCloseTo(0.6);
    ledger.settle(s, "1", {
      usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 },
      costUsd: 0.2,
    });
    expect(ledger.reserve(s, { key: "2", model: "m", estimateUsd: 0.6, ceilings })).toBeUndefined();
    expect(ledger.usageOf(s, "session")).toEqual({
      costUsd: 0.2,
      tokens: 2,
      reservedUsd: 0.6,
      reservedTokens: 0,
    });
  });

  it("a ledger answering a reservation with garbage stops the run with REIN_LEDGER_FAILED before the call", async () => {
    const base = new MemoryLedger();
    const odd = {
      reserve: () => "ok",
      settle: base.settle.bind(base),
      release: base.release.bind(base),
      totals: base.totals.bind(base),
    } as unknown as Ledger;
    const { model, made } = pricedModel([{ say: "never" }]);
    const r = await createHarness({ model, pricing, ledger: odd, audit: false }).session().run("go");
    expect(r.stopReason).toMatchObject({ type: "error", code: "REIN_LEDGER_FAILED" });
    expect((r.stopReason as { message: string }).message).toMatch(
      /answered a reservation with "ok" \(fail closed/,
    );
    expect(made).toEqual([]);
  });

  it("rejects budgets on a ledger that cannot enforce them, and run ceilings given twice", () => {
    const base = new MemoryLedger();
    const plain = {
      reserve: base.reserve.bind(base),
      settle: base.settle.bind(base),
      release: base.release.bind(base),
      totals: base.totals.bind(base),
    } as Ledger;
    expect(() => createHarness({ model: "scripted:demo", ledger: plain, limits: { maxCostUsd: 1 } })).toThrow(
      /budgets need a ledger that enforces ceilings/,
    );
    expect(() =>
      createHarness({
        model: "scripted:demo",
        limits: { maxCostUsd: 1 },
        guards: { budget: { run: { maxTokens: 5 } } },
      }),
    ).toThrow(/give the run's ceilings once/);
    expect(() => createHarness({ model: "scripted:demo", limits: { maxCostUsd: -1 } })).toThrow(
      /config\.limits\.maxCostUsd/,
    );
    expect(() => createHarness({ model: "scripted:demo", guards: { budget: { warnAt: [1.5] } } })).toThrow(
      /config\.guards/,
    );
  });
});
