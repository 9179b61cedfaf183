import { describe, expect, it } from "vitest";
import { z } from "zod";
import { canonicalArgs } from "../../src/guards/stall-detector.js";
import {
  BudgetGuard,
  defineTool,
  type Guard,
  type GuardContext,
  type GuardVerdict,
  MemoryLedger,
  StallDetector,
} from "../../src/index.js";
import { canonicalJson } from "../../src/protocol/canonical-json.js";
import { recordingSink } from "../../src/testing.js";
import { callTurn, contentOf, scriptHarness } from "../helpers.js";

/**
 * The per-step fast paths of the guards (issue 19's cost figure) keep every guarantee they replace:
 * each test here fails if a shortcut answered differently from the full path.
 */

function actTool(level: "LOW" | "MEDIUM" = "LOW") {
  const ran: unknown[] = [];
  const tool = defineTool({
    name: "act",
    description: "records that it ran",
    input: z.object({ n: z.number() }),
    risk: { level, reason: "test" },
    execute: (input) => {
      ran.push(input);
      return `ran ${input.n}`;
    },
  });
  return { tool, ran };
}

describe("the stall detector's call key", () => {
  it("canonicalArgs is exactly canonicalJson for flat, nested, odd and empty inputs", () => {
    const inputs: unknown[] = [
      {},
      { path: "a.txt" },
      { b: 2, a: 1, c: "x" },
      { z: null, y: true, x: false, w: 1.5e21, v: -0, u: 'é\u0000"quote"' },
      { nested: { b: [3, { d: 1, c: 2 }], a: null }, list: [1, "two"], top: "t" },
      { missing: undefined, fn: () => 1 },
      { __proto__: "key" },
      Object.create({ inherited: 1 }),
      Object.defineProperty({}, "hidden", { value: 1, enumerable: false }),
      Object.assign(Object.create({ inherited: 1 }), { own: 2 }),
      [1, { b: 1, a: 2 }],
      "text",
      42,
      null,
      undefined,
    ];
    for (const input of inputs) expect(canonicalArgs(input)).toBe(canonicalJson(input));
  });

  it("a large result repeated is a cycle; large results that differ only in their last character are not", async () => {
    const big = "x".repeat(5_000);
    let n = 0;
    const changing = defineTool({
      name: "dump",
      description: "a large output",
      input: z.object({}),
      risk: { level: "LOW", reason: "read" },
      readOnly: true,
      execute: () => `${big}${n++}`,
    });
    const same = defineTool({
      name: "dump_same",
      description: "the same large output",
      input: z.object({}),
      risk: { level: "LOW", reason: "read" },
      readOnly: true,
      execute: () => big,
    });
    const turns = (tool: string) => [...Array.from({ length: 12 }, () => callTurn(tool)), { say: "done" }];

    const moving = await scriptHarness(turns("dump"), {
      tools: [changing],
      guards: { stall: { window: 6 } },
      limits: { maxTurns: 50 },
    })
      .session()
      .run("go");
    expect(moving.status).toBe("completed");
    expect(moving.toolCalls).toBe(12);

    const sink = recordingSink();
    const stuck = await scriptHarness(turns("dump_same"), {
      tools: [same],
      guards: { stall: { window: 6 } },
      limits: { maxTurns: 50 },
      sinks: [sink],
    })
      .session()
      .run("go");
    expect(stuck.stopReason).toMatchObject({ type: "stalled" });
    expect((stuck.stopReason as { diagnostic: string }).diagnostic).toContain("the same call dump_same {}");
    expect(sink.ofType("stall_warning")).toHaveLength(1);
  });

  it("keeps state only for open sessions (the ring holds results by reference, released at close)", async () => {
    const stall = new StallDetector();
    const { tool } = actTool();
    const h = scriptHarness([callTurn("act", { n: 1 }), { say: "ok" }], { tools: [tool], guards: [stall] });
    const session = h.session();
    await session.run("go");
    expect(stall.trackedSessions).toBe(1);
    await session.close();
    expect(stall.trackedSessions).toBe(0);
  });
});

describe("the guard stage checks a frozen verdict once, and still per hook", () => {
  it("a frozen raise accepted before a call is refused after it (REIN_GUARD_FAILED): the cache keeps each hook's allowed actions", async () => {
    const raise = Object.freeze({ action: "raise", level: "MEDIUM", reason: "frozen raise" });
    const guard: Guard = {
      name: "frozen",
      beforeToolCall: () => raise as never,
      afterToolCall: () => raise as never,
    };
    const { tool, ran } = actTool();
    const sink = recordingSink();
    const r = await scriptHarness([callTurn("act", { n: 1 }), { say: "never" }], {
      tools: [tool],
      guards: [guard],
      sinks: [sink],
    })
      .session()
      .run("go");
    expect(ran).toEqual([{ n: 1 }]);
    expect(sink.ofType("tool_call_decided")[0]?.data.risk?.level).toBe("MEDIUM");
    expect(r.stopReason).toMatchObject({ type: "error", code: "REIN_GUARD_FAILED" });
    expect((r.stopReason as { message: string }).message).toMatch(
      /guard "frozen" afterToolCall answered a malformed verdict: action "raise" is not one of allow, stop, warn here/,
    );
  });

  it("a frozen verdict read through a getter is checked on every answer (never cached): its second answer is refused", async () => {
    let reads = 0;
    const shifty = Object.freeze({
      get action() {
        reads++;
        return reads === 1 ? "allow" : "bogus";
      },
    });
    const guard = { name: "shifty", beforeToolCall: () => shifty } as unknown as Guard;
    const { tool, ran } = actTool();
    const r = await scriptHarness(
      [
        {
          tool_calls: [
            { tool: "act", input: { n: 1 } },
            { tool: "act", input: { n: 2 } },
          ],
        },
        { say: "done" },
      ],
      { tools: [tool], guards: [guard] },
    )
      .session()
      .run("go");
    expect(ran).toEqual([{ n: 1 }]);
    const results = r.messages[2]?.content ?? [];
    expect(contentOf(results[0])).toBe("ran 1");
    expect(JSON.parse(contentOf(results[1])).error.message).toMatch(
      /guard "shifty" answered a malformed verdict: action "bogus"/,
    );
  });

  it("guards see the current turn on a context they cannot change", async () => {
    const seen: number[] = [];
    const contexts = new Set<GuardContext>();
    let refused = false;
    const guard: Guard = {
      name: "watch",
      beforeModelCall: (ctx) => {
        seen.push(ctx.turn);
        contexts.add(ctx);
        try {
          (ctx as { turn: number }).turn = 99;
        } catch {
          refused = true;
        }
        return { action: "allow" };
      },
    };
    const { tool } = actTool();
    await scriptHarness([callTurn("act", { n: 1 }), callTurn("act", { n: 2 }), { say: "done" }], {
      tools: [tool],
      guards: [guard],
    })
      .session()
      .run("go");
    expect(seen).toEqual([1, 2, 3]);
    expect(refused).toBe(true);
    for (const ctx of contexts) expect(Object.isFrozen(ctx)).toBe(true);
  });
});

describe("the memory ledger's shortcuts", () => {
  const scope = { tenantId: "t", sessionId: "s" };
  const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 };

  it("a ceilings list that is not frozen is read again at every reservation (its shared budgets can change)", () => {
    const ledger = new MemoryLedger();
    const ceilings: { account: `budget:${string}`; maxCostUsd: number }[] = [
      { account: "budget:a", maxCostUsd: 10 },
    ];
    ledger.reserve(scope, { key: "k1", model: "m", estimateUsd: 1, ceilings });
    ledger.settle(scope, "k1", { usage, costUsd: 1 });
    ceilings[0] = { account: "budget:b", maxCostUsd: 10 };
    ledger.reserve(scope, { key: "k2", model: "m", estimateUsd: 2, ceilings });
    ledger.settle(scope, "k2", { usage, costUsd: 2 });
    expect(ledger.usageOf(scope, "budget:a").costUsd).toBe(1);
    expect(ledger.usageOf(scope, "budget:b").costUsd).toBe(2);
  });

  it("a frozen ceilings list keeps charging and refusing exactly as the ceilings say", () => {
    const ledger = new MemoryLedger();
    const ceilings = Object.freeze([
      Object.freeze({ account: "run" as const, maxCostUsd: 5 }),
      Object.freeze({ account: "budget:team" as const, maxCostUsd: 3 }),
    ]);
    const entry = (key: string, usd: number) => ({ key, model: "m", estimateUsd: usd, runId: "r", ceilings });
    expect(ledger.reserve(scope, entry("k1", 2))).toBeUndefined();
    ledger.settle(scope, "k1", { usage, costUsd: 2 });
    // 2 spent + 1.5 would cross the shared budget's 3 (not the run's 5): refused, nothing reserved.
    expect(ledger.reserve(scope, entry("k2", 1.5))).toMatchObject({
      refused: true,
      account: "budget:team",
      limitUsd: 3,
      spentUsd: 2,
    });
    expect(ledger.usageOf(scope, "budget:team")).toEqual({
      costUsd: 2,
      tokens: 2,
      reservedUsd: 0,
      reservedTokens: 0,
    });
    expect(ledger.reserve(scope, entry("k3", 1))).toBeUndefined();
    expect(ledger.usageOf(scope, "budget:team").reservedUsd).toBe(1);
    expect(ledger.usageOf(scope, "run").reservedUsd).toBe(1);
    // Another session of the tenant reads the same shared budget, and its own (empty) run.
    const other = { tenantId: "t", sessionId: "s2" };
    expect(ledger.usageOf(other, "budget:team").reservedUsd).toBe(1);
    expect(ledger.usageOf(other, "run")).toEqual({
      costUsd: 0,
      tokens: 0,
      reservedUsd: 0,
      reservedTokens: 0,
    });
  });
});

describe("a budget's ledger over a MemoryLedger (the ceilings passed beside the entry, not in a copy of it)", () => {
  const scope = { tenantId: "t", sessionId: "s" };
  const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 };

  it("refuses at the budget's ceilings, and at an entry's own ceilings too (both lists apply)", () => {
    const base = new MemoryLedger();
    const budget = new BudgetGuard(base, { run: { maxCostUsd: 5 }, shared: { name: "team", maxCostUsd: 3 } });
    const ledger = budget.ledgerFor(base);
    expect(ledger.reserve(scope, { key: "k1", model: "m", estimateUsd: 2, runId: "r" })).toBeUndefined();
    ledger.settle(scope, "k1", { usage, costUsd: 2 });
    expect(base.usageOf(scope, "budget:team").costUsd).toBe(2);
    // 2 spent + 1.5 would cross the shared 3: refused before anything is reserved.
    expect(ledger.reserve(scope, { key: "k2", model: "m", estimateUsd: 1.5, runId: "r" })).toMatchObject({
      refused: true,
      account: "budget:team",
      limitUsd: 3,
    });
    expect(base.usageOf(scope, "budget:team").reservedUsd).toBe(0);
    // An entry's own ceiling (here a session cap of 2.5) still applies beside the budget's.
    const own = [{ account: "session" as const, maxCostUsd: 2.5 }];
    expect(
      ledger.reserve(scope, { key: "k3", model: "m", estimateUsd: 0.75, runId: "r", ceilings: own }),
    ).toMatchObject({ refused: true, account: "session", limitUsd: 2.5 });
    expect(
      ledger.reserve(scope, { key: "k4", model: "m", estimateUsd: 0.5, runId: "r", ceilings: own }),
    ).toBeUndefined();
    expect(base.usageOf(scope, "budget:team").reservedUsd).toBe(0.5);
  });

  it("a subclass of MemoryLedger is reserved through its own reserve (never bypassed)", () => {
    const seen: string[] = [];
    class CountingLedger extends MemoryLedger {
      override reserve(...args: Parameters<MemoryLedger["reserve"]>) {
        seen.push(args[1].key);
        return super.reserve(...args);
      }
    }
    const base = new CountingLedger();
    const ledger = new BudgetGuard(base, { run: { maxCostUsd: 1 } }).ledgerFor(base);
    expect(ledger.reserve(scope, { key: "k1", model: "m", estimateUsd: 0.5, runId: "r" })).toBeUndefined();
    expect(ledger.reserve(scope, { key: "k2", model: "m", estimateUsd: 0.75, runId: "r" })).toMatchObject({
      refused: true,
      account: "run",
    });
    expect(seen).toEqual(["k1", "k2"]);
  });
});

describe("the guard stage shares a call's records and result with the call before only when they are the same", () => {
  /** A guard that answers, call after call, the verdicts of `script` (then allows). */
  function scripted(name: string, script: readonly GuardVerdict[]): Guard {
    let i = 0;
    return { name, beforeToolCall: () => script[i++] ?? { action: "allow" } };
  }
  const stagesOf = (d: {
    stages: readonly { stage: string; outcome: string; by: string; note?: string }[];
  }) =>
    d.stages
      .filter((s) => s.stage === "guards")
      .map((s) => `${s.by} ${s.outcome}${s.note ? ` ${s.note}` : ""}`);

  it("each decision records its own verdicts when they change from call to call (pass, raise with a new cause, deny)", async () => {
    const { tool, ran } = actTool();
    const sink = recordingSink();
    const guards = [
      scripted("first", [
        { action: "allow" },
        { action: "raise", level: "MEDIUM", reason: "cause one" },
        { action: "raise", level: "MEDIUM", reason: "cause two" },
        { action: "allow" },
        { action: "allow" },
        { action: "deny", reason: "no more" },
      ]),
      scripted("second", [
        { action: "allow" },
        { action: "allow" },
        { action: "allow" },
        { action: "allow" },
        { action: "raise", level: "HIGH", reason: "cause three" },
      ]),
    ];
    const r = await scriptHarness(
      [...[1, 2, 3, 4, 5, 6].map((n) => callTurn("act", { n })), { say: "done" }],
      { tools: [tool], guards: { custom: guards }, sinks: [sink], security: { detect: false } },
    )
      .session()
      .run("go");
    expect(r.status).toBe("completed");
    const decided = sink.ofType("tool_call_decided").map((e) => e.data);
    expect(decided.map(stagesOf)).toEqual([
      ["guard:first pass", "guard:second pass"],
      ["guard:first raise cause one", "guard:second pass"],
      ["guard:first raise cause two", "guard:second pass"],
      ["guard:first pass", "guard:second pass"],
      ["guard:first pass", "guard:second raise cause three"],
      ["guard:first deny no more"],
    ]);
    expect(decided.map((d) => d.risk?.level)).toEqual(["LOW", "MEDIUM", "MEDIUM", "LOW", "HIGH", "LOW"]);
    expect(decided[1]?.risk?.reason).toBe("test; raised by first: cause one");
    expect(decided[2]?.risk?.reason).toBe("test; raised by first: cause two");
    expect(decided[3]?.risk?.reason).toBe("test");
    // HIGH needs approval and there is no gate: denied; the deny of call 6 is the guard's.
    expect(decided.map((d) => d.verdict)).toEqual(["allow", "allow", "allow", "allow", "deny", "deny"]);
    expect(ran).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
  });

  it("two harnesses with different guards, their sessions run concurrently, each get their own records and level", async () => {
    const raiseAll: Guard = {
      name: "raiser",
      beforeToolCall: () => ({ action: "raise", level: "MEDIUM", reason: "always" }),
    };
    const allowAll: Guard = { name: "allower", beforeToolCall: () => ({ action: "allow" }) };
    const calls = [...[1, 2, 3, 4, 5].map((n) => callTurn("act", { n })), { say: "done" }];
    const sinkA = recordingSink();
    const sinkB = recordingSink();
    const a = scriptHarness(calls, {
      tools: [actTool().tool],
      guards: { custom: [raiseAll] },
      security: { detect: false },
      sinks: [sinkA],
    });
    const b = scriptHarness(calls, {
      tools: [actTool().tool],
      guards: { custom: [allowAll] },
      security: { detect: false },
      sinks: [sinkB],
    });
    const [ra, rb] = await Promise.all([a.session().run("go"), b.session().run("go")]);
    expect(ra.toolCalls).toBe(5);
    expect(rb.toolCalls).toBe(5);
    const da = sinkA.ofType("tool_call_decided").map((e) => e.data);
    const db = sinkB.ofType("tool_call_decided").map((e) => e.data);
    for (const d of da) {
      expect(stagesOf(d)).toEqual(["guard:raiser raise always"]);
      expect(d.risk).toEqual({
        level: "MEDIUM",
        reason: "test; raised by raiser: always",
        rule: d.risk?.rule,
      });
    }
    for (const d of db) {
      expect(stagesOf(d)).toEqual(["guard:allower pass"]);
      expect(d.risk?.level).toBe("LOW");
    }
  });

  it("taint's raise names each run's own cause: a later run tainted by another call records that call", async () => {
    const { tool } = actTool();
    const sink = recordingSink();
    const session = scriptHarness(
      [
        callTurn("act", { n: 1 }),
        callTurn("act", { n: 2 }),
        { say: "one" },
        callTurn("act", { n: 3 }),
        callTurn("act", { n: 4 }),
        { say: "two" },
      ],
      { tools: [tool], guards: { taint: true }, sinks: [sink] },
    ).session();
    await session.run("first");
    await session.run("second");
    const decided = sink.ofType("tool_call_decided").map((e) => e.data);
    expect(decided.map((d) => d.risk?.level)).toEqual(["LOW", "MEDIUM", "LOW", "MEDIUM"]);
    const [first, , third] = decided;
    expect(decided[1]?.risk?.reason).toContain(
      `tainted by the result of act (call ${first?.callId}, turn 1)`,
    );
    expect(decided[3]?.risk?.reason).toContain(
      `tainted by the result of act (call ${third?.callId}, turn 1)`,
    );
    expect(decided[3]?.risk?.reason).not.toContain(`call ${first?.callId},`);
  });
});
