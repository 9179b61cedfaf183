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
 *
 * Reservation keys are scoped by tenant and session. Every implementation passes `ledgerContract`
 * from `rein/testing`; an entry it refuses (a settle or release of a reservation that is not open, a
 * second reservation under an open key, a negative or non-finite amount, token counts that are not
 * non-negative integers) throws `LedgerError` (`REIN_LEDGER_REJECTED`) and leaves the totals unchanged.
 */
export interface Ledger {
  reserve(scope: LedgerScope, entry: { key: string; model: string; estimateUsd: number }): void;
  /** Closes the reservation `key`: its estimate leaves `reservedUsd`; the actual usage and cost are added, and `calls` grows by one. */
  settle(scope: LedgerScope, key: string, actual: { usage: Usage; costUsd: number }): void;
  /** Closes the reservation `key` without spending: its estimate leaves `reservedUsd`. */
  release(scope: LedgerScope, key: string): void;
  /** A snapshot of one session's account, or of a whole tenant's (every session of it). */
  totals(scope: LedgerScope | { readonly tenantId: string }): LedgerTotals;
}
