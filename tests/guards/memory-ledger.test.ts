import { describe, expect, it } from "vitest";
import { MemoryLedger } from "../../src/index.js";

const usage = (n: number) => ({ inputTokens: n, outputTokens: n, cacheReadTokens: 0, cacheWriteTokens: 0 });

describe("MemoryLedger", () => {
  it("holds reservations until settled or released, per session and per tenant", () => {
    const ledger = new MemoryLedger();
    const a = { tenantId: "t", sessionId: "a" };
    const b = { tenantId: "t", sessionId: "b" };
    ledger.reserve(a, { key: "1", model: "m", estimateUsd: 0.5 });
    ledger.reserve(b, { key: "1", model: "m", estimateUsd: 0.25 });
    expect(ledger.totals({ tenantId: "t" }).reservedUsd).toBeCloseTo(0.75);
    ledger.settle(a, "1", { usage: usage(10), costUsd: 0.1 });
    ledger.release(b, "1");
    expect(ledger.totals(a)).toEqual({ usage: usage(10), costUsd: 0.1, reservedUsd: 0, calls: 1 });
    expect(ledger.totals(b)).toEqual({ usage: usage(0), costUsd: 0, reservedUsd: 0, calls: 0 });
    expect(ledger.totals({ tenantId: "t" })).toMatchObject({ costUsd: 0.1, calls: 1, reservedUsd: 0 });
    expect(ledger.totals({ tenantId: "nobody" }).calls).toBe(0);
  });

  it("returns copies: a caller cannot change the books", () => {
    const ledger = new MemoryLedger();
    const s = { tenantId: "t", sessionId: "a" };
    ledger.reserve(s, { key: "k", model: "m", estimateUsd: 1 });
    ledger.settle(s, "k", { usage: usage(5), costUsd: 1 });
    ledger.totals(s).usage.inputTokens = 999;
    expect(ledger.totals(s).usage.inputTokens).toBe(5);
  });

  it("settledShare (the budget guard's warning check) agrees with usageOf for run, session and shared accounts", () => {
    const ledger = new MemoryLedger();
    const a = { tenantId: "t", sessionId: "a" };
    const b = { tenantId: "t", sessionId: "b" };
    const ceilings = [
      { account: "run", maxCostUsd: 2 },
      { account: "session", maxTokens: 100 },
      { account: "budget:team", maxCostUsd: 10, maxTokens: 1_000 },
    ] as const;
    const share = (scope: typeof a, c: (typeof ceilings)[number]) => {
      const u = ledger.usageOf(scope, c.account);
      return Math.max(
        "maxCostUsd" in c ? u.costUsd / c.maxCostUsd : 0,
        "maxTokens" in c ? u.tokens / c.maxTokens : 0,
      );
    };
    const check = () => {
      for (const scope of [a, b, { tenantId: "t", sessionId: "never" }, { tenantId: "x", sessionId: "a" }])
        for (const c of ceilings) expect(ledger.settledShare(scope, c)).toBe(share(scope, c));
    };
    check();
    ledger.reserve(a, { key: "1", model: "m", estimateUsd: 0.5, estimateTokens: 40, runId: "r1", ceilings });
    check(); // a reservation is not settled spend
    ledger.settle(a, "1", { usage: usage(15), costUsd: 0.4 });
    ledger.reserve(b, { key: "1", model: "m", estimateUsd: 1, runId: "r9", ceilings });
    ledger.settle(b, "1", { usage: usage(100), costUsd: 0.9 });
    check();
    // A new run of session a: its run account starts again from zero, its session account does not.
    ledger.reserve(a, { key: "2", model: "m", estimateUsd: 0.5, runId: "r2", ceilings });
    ledger.settle(a, "2", { usage: usage(5), costUsd: 0.3 });
    check();
    expect(ledger.settledShare(a, ceilings[0])).toBeCloseTo(0.15);
    expect(ledger.settledShare(a, ceilings[1])).toBeCloseTo(0.4);
    expect(ledger.settledShare(b, ceilings[2])).toBeCloseTo(0.24);
  });
});
