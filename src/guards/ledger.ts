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
  /** Settled charges (model calls, and tool calls that declare a cost). */
  readonly calls: number;
}

/**
 * An account a ceiling applies to: the current `run` of the session, the whole `session`, or a
 * shared named budget (`budget:<name>`) that every session naming it draws from (per tenant).
 */
export type BudgetAccount = "run" | "session" | `budget:${string}`;

/** A ceiling on one account. Tokens count input, output, cache read and cache write. */
export interface Ceiling {
  readonly account: BudgetAccount;
  readonly maxCostUsd?: number;
  readonly maxTokens?: number;
}

export interface ReserveEntry {
  readonly key: string;
  /** The model id, or `tool:<name>` for a tool that declares a cost. */
  readonly model: string;
  readonly estimateUsd: number;
  /** Worst-case tokens of the call (0 for a tool). */
  readonly estimateTokens?: number;
  /** The run the reservation belongs to: the `run` account is the session's spend since its first reservation. */
  readonly runId?: string;
  /**
   * Ceilings to check before reserving. The check and the reservation are one step: if any ceiling
   * would be crossed by spent + reserved + this estimate, nothing is reserved and a refusal is returned.
   */
  readonly ceilings?: readonly Ceiling[];
}

/** A reservation the ledger refused because it would cross a ceiling. Nothing was reserved. */
export interface ReservationRefusal {
  readonly refused: true;
  readonly account: BudgetAccount;
  readonly limitUsd: number | null;
  readonly limitTokens: number | null;
  readonly spentUsd: number;
  readonly spentTokens: number;
  readonly reservedUsd: number;
  readonly reservedTokens: number;
  readonly estimateUsd: number;
  readonly estimateTokens: number;
}

/** Spend of one account: settled and reserved, in USD and tokens. */
export interface AccountUsage {
  readonly costUsd: number;
  readonly tokens: number;
  readonly reservedUsd: number;
  readonly reservedTokens: number;
}

/**
 * The one money ledger. Before a model call the loop reserves its worst-case cost; after it, the
 * reservation is settled with the real usage (or released if the call failed without usage).
 * Budget guards, usage reports and the audit all read it; there is never a second counter.
 *
 * A ledger that enforces ceilings (`usageOf` present) checks an entry's `ceilings` and reserves in
 * one atomic step, so concurrent sessions drawing on one budget can never overspend it as long as
 * each call's real cost stays within its reservation.
 *
 * Reservation keys are scoped by tenant and session. Every implementation passes `ledgerContract`
 * from `rein/testing`; an entry it refuses (a settle or release of a reservation that is not open, a
 * second reservation under an open key, a negative or non-finite amount, token counts that are not
 * non-negative integers) throws `LedgerError` (`REIN_LEDGER_REJECTED`) and leaves the totals unchanged.
 */
export interface Ledger {
  // biome-ignore lint/suspicious/noConfusingVoidType: a ledger that enforces no ceilings returns nothing
  reserve(scope: LedgerScope, entry: ReserveEntry): ReservationRefusal | undefined | void;
  /** Closes the reservation `key`: its estimate leaves `reservedUsd`; the actual usage and cost are added, and `calls` grows by one. */
  settle(scope: LedgerScope, key: string, actual: { usage: Usage; costUsd: number }): void;
  /** Closes the reservation `key` without spending: its estimate leaves `reservedUsd`. */
  release(scope: LedgerScope, key: string): void;
  /** A snapshot of one session's account, or of a whole tenant's (every session of it). */
  totals(scope: LedgerScope | { readonly tenantId: string }): LedgerTotals;
  /**
   * The session's settled spend, exactly `totals(scope).costUsd`, without making a snapshot: the loop
   * reads it after every model call. Optional; without it the loop reads `totals(scope).costUsd`.
   */
  sessionCostUsd?(scope: LedgerScope): number;
  /** Settled and reserved spend of one account; present on ledgers that enforce ceilings. */
  usageOf?(scope: LedgerScope, account: BudgetAccount): AccountUsage;
  /**
   * The session was closed (`session.close()`): a ledger may drop what it keeps in memory for it
   * (a durable one keeps its totals in its store). Called once per close; optional.
   */
  sessionClosed?(scope: LedgerScope): void;
  /** The session's open reservations (after a crash, calls whose outcome is unknown); used by resume. */
  openReservations?(scope: LedgerScope): readonly {
    readonly key: string;
    readonly model: string;
    readonly estimateUsd: number;
    readonly estimateTokens: number;
  }[];
}

/** Tokens a usage counts against a token ceiling. */
export function tokensOf(usage: Usage): number {
  return usage.inputTokens + usage.outputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
}
