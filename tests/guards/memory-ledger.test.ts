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

  it("several reservations open at once in one session settle or release by key, listed in the order they were made", () => {
    const ledger = new MemoryLedger();
    const s = { tenantId: "t", sessionId: "a" };
    const keys = () => ledger.openReservations(s).map((r) => r.key);
    for (const [key, usd] of [
      ["k1", 0.5],
      ["k2", 0.25],
      ["k3", 0.125],
    ] as const)
      ledger.reserve(s, { key, model: "m", estimateUsd: usd, estimateTokens: 10 });
    expect(keys()).toEqual(["k1", "k2", "k3"]);
    // The oldest leaves: the others keep their order, and a new one goes last.
    ledger.settle(s, "k1", { usage: usage(3), costUsd: 0.375 });
    ledger.reserve(s, { key: "k4", model: "tool:x", estimateUsd: 1 });
    expect(keys()).toEqual(["k2", "k3", "k4"]);
    expect(() => ledger.reserve(s, { key: "k3", model: "m", estimateUsd: 1 })).toThrow(/already open/);
    ledger.release(s, "k3");
    expect(ledger.openReservations(s)).toEqual([
      { key: "k2", model: "m", estimateUsd: 0.25, estimateTokens: 10 },
      { key: "k4", model: "tool:x", estimateUsd: 1, estimateTokens: 0 },
    ]);
    expect(() => ledger.settle(s, "k3", { usage: usage(1), costUsd: 0 })).toThrow(/no open reservation/);
    ledger.release(s, "k2");
    ledger.settle(s, "k4", { usage: usage(0), costUsd: 1 });
    expect(keys()).toEqual([]);
    expect(ledger.totals(s)).toEqual({ usage: usage(3), costUsd: 1.375, reservedUsd: 0, calls: 2 });
    // Emptied, the session takes reservations again.
    ledger.reserve(s, { key: "k1", model: "m", estimateUsd: 0.5 });
    expect(keys()).toEqual(["k1"]);
  });

  it("interleaved sessions of two tenants keep their own books, whatever session was used last", () => {
    const ledger = new MemoryLedger();
    const scopes = [
      { tenantId: "t", sessionId: "a" },
      { tenantId: "t", sessionId: "b" },
      { tenantId: "u", sessionId: "a" },
    ];
    for (let round = 1; round <= 3; round++) {
      scopes.forEach((s) => {
        ledger.reserve(s, { key: `k${round}`, model: "m", estimateUsd: 1, runId: `r${round}` });
      });
      scopes.forEach((s, i) => {
        ledger.settle({ ...s }, `k${round}`, { usage: usage(i + 1), costUsd: (i + 1) / 8 });
      });
    }
    scopes.forEach((s, i) => {
      expect(ledger.totals(s)).toEqual({
        usage: usage(3 * (i + 1)),
        costUsd: (3 * (i + 1)) / 8,
        reservedUsd: 0,
        calls: 3,
      });
    });
    expect(ledger.totals({ tenantId: "t" })).toMatchObject({ costUsd: 9 / 8, calls: 6 });
    expect(ledger.totals({ tenantId: "u" })).toMatchObject({ costUsd: 9 / 8, calls: 3 });
  });

  it("a closed session that is used again is not forgotten while others close", () => {
    const ledger = new MemoryLedger({ retainClosedSessions: 1 });
    const a = { tenantId: "t", sessionId: "a" };
    const spend = (s: typeof a, key: string) => {
      ledger.reserve(s, { key, model: "m", estimateUsd: 1 });
      ledger.settle(s, key, { usage: usage(1), costUsd: 0.5 });
    };
    spend(a, "1");
    ledger.sessionClosed(a);
    // Reopened right away (the last session the ledger saw, as a resumed session is).
    spend(a, "2");
    for (const id of ["b", "c"]) {
      const s = { tenantId: "t", sessionId: id };
      spend(s, "1");
      ledger.sessionClosed(s);
    }
    expect(ledger.totals(a).calls).toBe(2);
    expect(ledger.totals({ tenantId: "t", sessionId: "b" }).calls).toBe(0); // forgotten
    expect(ledger.totals({ tenantId: "t", sessionId: "c" }).calls).toBe(1);
    expect(ledger.totals({ tenantId: "t" }).calls).toBe(4);
    // Closing a session the ledger never saw changes nothing.
    ledger.sessionClosed({ tenantId: "t", sessionId: "never" });
    expect(ledger.totals({ tenantId: "t", sessionId: "c" }).calls).toBe(1);
  });
});
