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
});
