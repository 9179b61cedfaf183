/**
 * The Ledger contract (src/guards/ledger.ts). Run it on every implementation:
 *
 * ```ts
 * import { ledgerContract } from "rein/testing";
 * ledgerContract({ name: "RedisLedger", create: () => new RedisLedger(client, randomPrefix()) });
 * ```
 */
import { expect } from "vitest";
import type { Ledger, LedgerScope, LedgerTotals } from "../guards/ledger.js";
import type { Usage } from "../protocol/messages.js";
import { type ContractCheck, type Factory, registerContract } from "./contract.js";

export interface LedgerContractOptions {
  /** Names the suite: `Ledger contract: <name>`. */
  readonly name: string;
  /** A fresh, empty ledger; called once per check. */
  readonly create: Factory<Ledger>;
  /** Called after each check with the ledger it used. */
  readonly dispose?: (ledger: Ledger) => void | Promise<void>;
}

/** Registers the Ledger contract's checks as vitest tests. */
export function ledgerContract(options: LedgerContractOptions): void {
  registerContract(`Ledger contract: ${options.name}`, ledgerChecks(options));
}

const S: LedgerScope = { tenantId: "tenant-a", sessionId: "session-1" };
const S2: LedgerScope = { tenantId: "tenant-a", sessionId: "session-2" };
const OTHER: LedgerScope = { tenantId: "tenant-b", sessionId: "session-1" };
const M = "scripted:contract";

const usage = (input: number, output: number, cacheRead = 0, cacheWrite = 0): Usage => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: cacheRead,
  cacheWriteTokens: cacheWrite,
});
const ZERO = usage(0, 0);

/** Totals compared with float tolerance on the money fields (sums of decimals are not exact). */
function expectTotals(actual: LedgerTotals, expected: LedgerTotals, what = "totals"): void {
  expect(actual.usage, `${what}: usage`).toEqual(expected.usage);
  expect(actual.calls, `${what}: calls`).toBe(expected.calls);
  expect(actual.costUsd, `${what}: costUsd`).toBeCloseTo(expected.costUsd, 9);
  expect(actual.reservedUsd, `${what}: reservedUsd`).toBeCloseTo(expected.reservedUsd, 9);
}

const empty: LedgerTotals = { usage: ZERO, costUsd: 0, reservedUsd: 0, calls: 0 };

/** The Ledger contract as named checks (see `ContractCheck`). */
export function ledgerChecks(options: LedgerContractOptions): ContractCheck[] {
  const check = (name: string, body: (ledger: Ledger) => void | Promise<void>): ContractCheck => ({
    name,
    async run() {
      const ledger = await options.create();
      try {
        await body(ledger);
      } finally {
        await options.dispose?.(ledger);
      }
    },
  });

  return [
    check("a fresh ledger totals zero for any session and tenant", (ledger) => {
      expectTotals(ledger.totals(S), empty);
      expectTotals(ledger.totals({ tenantId: S.tenantId }), empty);
    }),

    check(
      "reserve adds the estimate to reservedUsd of the session and its tenant, and nothing else",
      (ledger) => {
        ledger.reserve(S, { key: "k1", model: M, estimateUsd: 0.5 });
        ledger.reserve(S, { key: "k2", model: M, estimateUsd: 0.25 });
        expectTotals(ledger.totals(S), { ...empty, reservedUsd: 0.75 });
        expectTotals(ledger.totals({ tenantId: S.tenantId }), { ...empty, reservedUsd: 0.75 });
      },
    ),

    check("settle replaces the reservation with the actual cost and usage, and counts one call", (ledger) => {
      ledger.reserve(S, { key: "k1", model: M, estimateUsd: 0.5 });
      ledger.reserve(S, { key: "k2", model: M, estimateUsd: 0.25 });
      ledger.settle(S, "k1", { usage: usage(1000, 200, 300, 40), costUsd: 0.125 });
      expectTotals(ledger.totals(S), {
        usage: usage(1000, 200, 300, 40),
        costUsd: 0.125,
        reservedUsd: 0.25,
        calls: 1,
      });
      // An actual cost above the estimate is recorded as it is (the estimate is a reservation, not a cap).
      ledger.settle(S, "k2", { usage: usage(1, 2, 3, 4), costUsd: 0.75 });
      expectTotals(ledger.totals(S), {
        usage: usage(1001, 202, 303, 44),
        costUsd: 0.875,
        reservedUsd: 0,
        calls: 2,
      });
    }),

    check("release drops the reservation without cost, usage or a call", (ledger) => {
      ledger.reserve(S, { key: "k1", model: M, estimateUsd: 0.5 });
      ledger.release(S, "k1");
      expectTotals(ledger.totals(S), empty);
      expectTotals(ledger.totals({ tenantId: S.tenantId }), empty);
    }),

    check("a key can be reserved again once settled or released", (ledger) => {
      ledger.reserve(S, { key: "k", model: M, estimateUsd: 1 });
      ledger.release(S, "k");
      ledger.reserve(S, { key: "k", model: M, estimateUsd: 2 });
      ledger.settle(S, "k", { usage: usage(1, 1), costUsd: 1.5 });
      ledger.reserve(S, { key: "k", model: M, estimateUsd: 3 });
      expectTotals(ledger.totals(S), { usage: usage(1, 1), costUsd: 1.5, reservedUsd: 3, calls: 1 });
    }),

    check("settling a reservation that is not open is an error and changes nothing", (ledger) => {
      const settle = (key: string) => () => ledger.settle(S, key, { usage: usage(10, 10), costUsd: 1 });
      expect(settle("never-reserved")).toThrow();
      ledger.reserve(S, { key: "k", model: M, estimateUsd: 0.5 });
      ledger.settle(S, "k", { usage: usage(1, 1), costUsd: 0.25 });
      expect(settle("k"), "settled twice").toThrow();
      ledger.reserve(S, { key: "r", model: M, estimateUsd: 0.5 });
      ledger.release(S, "r");
      expect(settle("r"), "settled after release").toThrow();
      expectTotals(ledger.totals(S), { usage: usage(1, 1), costUsd: 0.25, reservedUsd: 0, calls: 1 });
    }),

    check("releasing a reservation that is not open is an error and changes nothing", (ledger) => {
      expect(() => ledger.release(S, "never-reserved")).toThrow();
      ledger.reserve(S, { key: "k", model: M, estimateUsd: 0.5 });
      ledger.release(S, "k");
      expect(() => ledger.release(S, "k"), "released twice").toThrow();
      expectTotals(ledger.totals(S), empty);
    }),

    check("a second reservation under an open key is an error and keeps the first", (ledger) => {
      ledger.reserve(S, { key: "k", model: M, estimateUsd: 0.5 });
      expect(() => ledger.reserve(S, { key: "k", model: M, estimateUsd: 0.01 })).toThrow();
      expectTotals(ledger.totals(S), { ...empty, reservedUsd: 0.5 });
    }),

    check(
      "refuses negative or non-finite amounts and non-integer token counts, changing nothing",
      (ledger) => {
        for (const estimateUsd of [-0.01, Number.NaN, Number.POSITIVE_INFINITY, "1" as unknown as number]) {
          expect(
            () => ledger.reserve(S, { key: "bad", model: M, estimateUsd }),
            `estimate ${estimateUsd}`,
          ).toThrow();
        }
        ledger.reserve(S, { key: "k", model: M, estimateUsd: 0.5 });
        for (const costUsd of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
          expect(() => ledger.settle(S, "k", { usage: usage(1, 1), costUsd }), `cost ${costUsd}`).toThrow();
        }
        for (const bad of [
          usage(-1, 0),
          usage(1.5, 0),
          usage(0, Number.NaN),
          usage(0, 0, -2),
          usage(0, 0, 0, 0.1),
        ]) {
          expect(() => ledger.settle(S, "k", { usage: bad, costUsd: 0.1 }), JSON.stringify(bad)).toThrow();
        }
        expectTotals(ledger.totals(S), { ...empty, reservedUsd: 0.5 });
        // The reservation survived the refused settles and still settles normally.
        ledger.settle(S, "k", { usage: usage(2, 3), costUsd: 0.2 });
        expectTotals(ledger.totals(S), { usage: usage(2, 3), costUsd: 0.2, reservedUsd: 0, calls: 1 });
      },
    ),

    check("tenant totals add up every session of the tenant", (ledger) => {
      ledger.reserve(S, { key: "k", model: M, estimateUsd: 1 });
      ledger.reserve(S2, { key: "k", model: M, estimateUsd: 2 });
      ledger.settle(S, "k", { usage: usage(10, 1), costUsd: 0.1 });
      ledger.reserve(S2, { key: "j", model: M, estimateUsd: 4 });
      ledger.settle(S2, "j", { usage: usage(20, 2), costUsd: 0.2 });
      expectTotals(ledger.totals(S), { usage: usage(10, 1), costUsd: 0.1, reservedUsd: 0, calls: 1 });
      expectTotals(ledger.totals(S2), { usage: usage(20, 2), costUsd: 0.2, reservedUsd: 2, calls: 1 });
      expectTotals(ledger.totals({ tenantId: S.tenantId }), {
        usage: usage(30, 3),
        costUsd: 0.3,
        reservedUsd: 2,
        calls: 2,
      });
    }),

    check(
      "tenant isolation: another tenant's session of the same id has its own books and keys",
      (ledger) => {
        ledger.reserve(S, { key: "k", model: M, estimateUsd: 1 });
        // The same key in the other tenant is not S's reservation: settling it there is an error.
        expect(() => ledger.settle(OTHER, "k", { usage: usage(5, 5), costUsd: 9 })).toThrow();
        expect(() => ledger.release(OTHER, "k")).toThrow();
        ledger.reserve(OTHER, { key: "k", model: M, estimateUsd: 3 });
        ledger.settle(OTHER, "k", { usage: usage(5, 5), costUsd: 2 });
        expectTotals(ledger.totals(S), { ...empty, reservedUsd: 1 });
        expectTotals(ledger.totals({ tenantId: S.tenantId }), { ...empty, reservedUsd: 1 });
        expectTotals(ledger.totals(OTHER), { usage: usage(5, 5), costUsd: 2, reservedUsd: 0, calls: 1 });
        expectTotals(ledger.totals({ tenantId: OTHER.tenantId }), {
          usage: usage(5, 5),
          costUsd: 2,
          reservedUsd: 0,
          calls: 1,
        });
      },
    ),

    check("keys and ids built to collide when joined with a separator stay apart", (ledger) => {
      // `session + sep + key` and `tenant + sep + session` are the same string for these pairs.
      const x: LedgerScope = { tenantId: "t", sessionId: "s\u0000k" };
      const y: LedgerScope = { tenantId: "t", sessionId: "s" };
      const z: LedgerScope = { tenantId: "t\u0000s", sessionId: "k" };
      ledger.reserve(x, { key: "x", model: M, estimateUsd: 1 });
      ledger.reserve(y, { key: "k\u0000x", model: M, estimateUsd: 2 });
      ledger.reserve(z, { key: "x", model: M, estimateUsd: 4 });
      ledger.settle(y, "k\u0000x", { usage: usage(1, 1), costUsd: 0.5 });
      expectTotals(ledger.totals(x), { ...empty, reservedUsd: 1 });
      expectTotals(ledger.totals(y), { usage: usage(1, 1), costUsd: 0.5, reservedUsd: 0, calls: 1 });
      expectTotals(ledger.totals(z), { ...empty, reservedUsd: 4 });
      expectTotals(ledger.totals({ tenantId: "t" }), {
        usage: usage(1, 1),
        costUsd: 0.5,
        reservedUsd: 1,
        calls: 1,
      });
    }),

    check(
      "concurrent calls: reservedUsd is the sum of what is in flight, and nothing is lost",
      async (ledger) => {
        // 60 calls interleaved the way concurrent sessions interleave on one event loop: every call
        // reserves before any settles, then they settle or release in a scrambled order.
        const calls = Array.from({ length: 60 }, (_, i) => ({
          scope: i % 3 === 0 ? S2 : S,
          key: `call-${i}`,
          estimate: 0.01 * (i + 1),
          cost: 0.001 * (i + 1),
          settles: i % 4 !== 0,
        }));
        let allReserved!: () => void;
        const reservedGate = new Promise<void>((r) => {
          allReserved = r;
        });
        let reserved = 0;
        const inFlight = calls.map(async (c, i) => {
          await Promise.resolve();
          ledger.reserve(c.scope, { key: c.key, model: M, estimateUsd: c.estimate });
          if (++reserved === calls.length) allReserved();
          await reservedGate;
          for (let hop = 0; hop < (i * 7) % 5; hop++) await Promise.resolve();
          if (c.settles) ledger.settle(c.scope, c.key, { usage: usage(i, 1), costUsd: c.cost });
          else ledger.release(c.scope, c.key);
        });
        await reservedGate;
        const sum = (
          pick: (c: (typeof calls)[number]) => number,
          filter = (_c: (typeof calls)[number]) => true,
        ) => calls.filter(filter).reduce((acc, c) => acc + pick(c), 0);
        expect(ledger.totals({ tenantId: S.tenantId }).reservedUsd).toBeCloseTo(
          sum((c) => c.estimate),
          9,
        );
        await Promise.all(inFlight);
        const settled = calls.filter((c) => c.settles);
        expectTotals(ledger.totals({ tenantId: S.tenantId }), {
          usage: usage(
            calls.reduce((acc, c, i) => acc + (c.settles ? i : 0), 0),
            settled.length,
          ),
          costUsd: sum(
            (c) => c.cost,
            (c) => c.settles,
          ),
          reservedUsd: 0,
          calls: settled.length,
        });
        expect(ledger.totals(S).calls + ledger.totals(S2).calls).toBe(settled.length);
      },
    ),

    check(
      "a budget check over reservedUsd + costUsd never lets concurrent calls overspend",
      async (ledger) => {
        // The way a budget guard uses the ledger: reserve only if spent + in flight + estimate fits.
        const budget = 1;
        const admitted: string[] = [];
        await Promise.all(
          Array.from({ length: 40 }, async (_, i) => {
            await Promise.resolve();
            const t = ledger.totals({ tenantId: S.tenantId });
            if (t.costUsd + t.reservedUsd + 0.1 > budget + 1e-9) return;
            ledger.reserve(S, { key: `b${i}`, model: M, estimateUsd: 0.1 });
            admitted.push(`b${i}`);
            await Promise.resolve();
            ledger.settle(S, `b${i}`, { usage: usage(1, 1), costUsd: 0.1 });
          }),
        );
        expect(admitted).toHaveLength(10);
        expect(ledger.totals({ tenantId: S.tenantId }).costUsd).toBeLessThanOrEqual(budget + 1e-9);
      },
    ),

    check(
      "sessionCostUsd, where a ledger has it, is exactly totals(scope).costUsd at every step",
      (ledger) => {
        const read = ledger.sessionCostUsd;
        if (read === undefined) return;
        const same = (scope: LedgerScope, what: string) =>
          expect(read.call(ledger, scope), `sessionCostUsd after ${what}`).toBe(ledger.totals(scope).costUsd);
        same(S, "nothing (a session the ledger never saw)");
        ledger.reserve(S, { key: "k1", model: M, estimateUsd: 1 });
        same(S, "a reservation");
        ledger.settle(S, "k1", { usage: usage(3, 4), costUsd: 0.1 });
        same(S, "a settlement");
        ledger.reserve(S, { key: "k2", model: M, estimateUsd: 1 });
        ledger.settle(S, "k2", { usage: usage(1, 1), costUsd: 0.2 });
        ledger.reserve(S, { key: "k3", model: M, estimateUsd: 1 });
        ledger.release(S, "k3");
        same(S, "two settlements and a release");
        expect(read.call(ledger, S)).toBeCloseTo(0.3, 9);
        // Another session and another tenant keep their own.
        ledger.reserve(S2, { key: "k1", model: M, estimateUsd: 1 });
        ledger.settle(S2, "k1", { usage: usage(1, 1), costUsd: 0.05 });
        same(S2, "a settlement of another session");
        same(S, "a settlement of another session");
        same(OTHER, "settlements in another tenant only");
        expect(read.call(ledger, OTHER)).toBe(0);
      },
    ),

    check("totals are a snapshot: changing the returned object does not change the books", (ledger) => {
      ledger.reserve(S, { key: "k", model: M, estimateUsd: 1 });
      ledger.settle(S, "k", { usage: usage(5, 5), costUsd: 0.5 });
      const t = ledger.totals(S) as { usage: Usage; costUsd: number };
      t.usage.inputTokens = 999;
      t.costUsd = 999;
      const tenant = ledger.totals({ tenantId: S.tenantId }) as { usage: Usage };
      tenant.usage.outputTokens = 999;
      expectTotals(ledger.totals(S), { usage: usage(5, 5), costUsd: 0.5, reservedUsd: 0, calls: 1 });
      expectTotals(ledger.totals({ tenantId: S.tenantId }), {
        usage: usage(5, 5),
        costUsd: 0.5,
        reservedUsd: 0,
        calls: 1,
      });
    }),
  ];
}
