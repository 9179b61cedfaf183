import { LedgerError } from "../protocol/errors.js";
import type { Usage } from "../protocol/messages.js";
import type { AccountUsage, Ceiling, LedgerScope, ReservationRefusal, ReserveEntry } from "./ledger.js";

/** The checks every ledger makes, one copy (MemoryLedger, the SQLite and Redis stores' ledgers). */

/** A refusal if spent + reserved + this estimate would cross the ceiling. */
export function ceilingRefusal(
  ceiling: Ceiling,
  u: AccountUsage,
  usd: number,
  tokens: number,
): ReservationRefusal | undefined {
  const overUsd = ceiling.maxCostUsd !== undefined && u.costUsd + u.reservedUsd + usd > ceiling.maxCostUsd;
  const overTokens =
    ceiling.maxTokens !== undefined && u.tokens + u.reservedTokens + tokens > ceiling.maxTokens;
  if (!overUsd && !overTokens) return undefined;
  return {
    refused: true,
    account: ceiling.account,
    limitUsd: overUsd ? (ceiling.maxCostUsd ?? null) : null,
    limitTokens: overUsd ? null : (ceiling.maxTokens ?? null),
    spentUsd: u.costUsd,
    spentTokens: u.tokens,
    reservedUsd: Math.max(0, u.reservedUsd),
    reservedTokens: Math.max(0, u.reservedTokens),
    estimateUsd: usd,
    estimateTokens: tokens,
  };
}

/** Refuses a scope without a tenant and session id. */
export function checkScope(scope: LedgerScope): void {
  if (
    typeof scope?.tenantId !== "string" ||
    scope.tenantId === "" ||
    typeof scope.sessionId !== "string" ||
    scope.sessionId === ""
  ) {
    throw new LedgerError(
      `tenantId and sessionId must be non-empty strings, got tenantId ${JSON.stringify(scope?.tenantId) ?? "undefined"}, sessionId ${JSON.stringify(scope?.sessionId) ?? "undefined"}`,
    );
  }
}

/** Refuses a negative or non-finite amount. */
export function checkAmount(value: unknown, what: string, scope: LedgerScope, key: string): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new LedgerError(
      `${what} must be a finite number >= 0, got ${String(value)} (reservation "${key}", session ${scope.sessionId}, tenant ${scope.tenantId})`,
      { ...scope, key },
    );
  }
}

/** Refuses token counts that are not integers >= 0. */
export function checkUsage(usage: Usage, scope: LedgerScope, key: string): void {
  // Four named reads, not a loop over the field names: no iterator and no keyed load per settlement.
  checkCount(usage?.inputTokens, "inputTokens", scope, key);
  checkCount(usage.outputTokens, "outputTokens", scope, key);
  checkCount(usage.cacheReadTokens, "cacheReadTokens", scope, key);
  checkCount(usage.cacheWriteTokens, "cacheWriteTokens", scope, key);
}

function checkCount(n: unknown, field: string, scope: LedgerScope, key: string): void {
  if (!Number.isSafeInteger(n) || (n as number) < 0) {
    throw new LedgerError(
      `settle: usage.${field} must be an integer >= 0, got ${String(n)} (reservation "${key}", session ${scope.sessionId}, tenant ${scope.tenantId})`,
      { ...scope, key },
    );
  }
}

/**
 * A reservation's key and amounts; answers the token estimate (0 when absent). After it, `entry.key`
 * is a non-empty string.
 */
export function checkReserveAmounts(scope: LedgerScope, entry: ReserveEntry): number {
  const key = entry?.key;
  if (typeof key !== "string" || key === "") {
    throw new LedgerError(`reserve: the key must be a non-empty string, got ${JSON.stringify(key)}`, {
      ...scope,
    });
  }
  checkAmount(entry.estimateUsd, "reserve: estimateUsd", scope, key);
  const tokens = entry.estimateTokens ?? 0;
  checkAmount(tokens, "reserve: estimateTokens", scope, key);
  return tokens;
}

/** A reservation's key and amounts; answers the key and the token estimate (0 when absent). */
export function checkReserveEntry(scope: LedgerScope, entry: ReserveEntry): { key: string; tokens: number } {
  const tokens = checkReserveAmounts(scope, entry);
  return { key: entry.key, tokens };
}
