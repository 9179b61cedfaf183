import type { Usage } from "../protocol/messages.js";

export interface LedgerScope {
  readonly tenantId: string;
  readonly sessionId: string;
}

export interface LedgerTotals {
  readonly usage: Usage;
  /** Settled spend. */
  readonly costUsd: number;
  /** Reserved and not yet settled: the worst case of calls in flight. */
  readonly reservedUsd: number;
  readonly calls: number;
}

/**
 * The one money ledger. Before a model call the loop reserves its worst-case cost; after it, the
 * reservation is settled with the real usage (or released if the call failed without usage).
 * Budget guards, usage reports and the audit all read it; there is never a second counter.
 */
export interface Ledger {
  reserve(scope: LedgerScope, entry: { key: string; model: string; estimateUsd: number }): void;
  settle(scope: LedgerScope, key: string, actual: { usage: Usage; costUsd: number }): void;
  release(scope: LedgerScope, key: string): void;
  totals(scope: LedgerScope | { readonly tenantId: string }): LedgerTotals;
}
