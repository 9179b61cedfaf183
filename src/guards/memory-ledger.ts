import { LedgerError } from "../protocol/errors.js";
import { addUsage, emptyUsage, type Usage } from "../protocol/messages.js";
import type { Ledger, LedgerScope, LedgerTotals } from "./ledger.js";

interface Account {
  usage: Usage;
  costUsd: number;
  reservedUsd: number;
  calls: number;
  /** Open reservations counted in `reservedUsd`; at 0, `reservedUsd` is exactly 0 (no float residue). */
  open: number;
}

interface Tenant {
  readonly account: Account;
  readonly sessions: Map<string, Session>;
}

interface Session {
  readonly account: Account;
  /** Open reservations: key → estimate. Keys are per session, so equal keys elsewhere never meet. */
  readonly reservations: Map<string, number>;
}

function account(): Account {
  return { usage: emptyUsage(), costUsd: 0, reservedUsd: 0, calls: 0, open: 0 };
}

/** In-process ledger with O(1) updates: running totals per session and per tenant. */
export class MemoryLedger implements Ledger {
  /** tenant → session. Nested rather than a joined key, so no pair of ids can collide. */
  readonly #tenants = new Map<string, Tenant>();
  #last: { tenantId: string; sessionId: string; tenant: Tenant; session: Session } | undefined;

  #open(scope: LedgerScope): { tenant: Tenant; session: Session } {
    const last = this.#last;
    if (last && last.sessionId === scope.sessionId && last.tenantId === scope.tenantId) return last;
    checkScope(scope);
    let tenant = this.#tenants.get(scope.tenantId);
    if (!tenant) {
      tenant = { account: account(), sessions: new Map() };
      this.#tenants.set(scope.tenantId, tenant);
    }
    let session = tenant.sessions.get(scope.sessionId);
    if (!session) {
      session = { account: account(), reservations: new Map() };
      tenant.sessions.set(scope.sessionId, session);
    }
    this.#last = { tenantId: scope.tenantId, sessionId: scope.sessionId, tenant, session };
    return this.#last;
  }

  reserve(scope: LedgerScope, entry: { key: string; model: string; estimateUsd: number }): void {
    const { tenant, session } = this.#open(scope);
    const key = entry?.key;
    if (typeof key !== "string" || key === "") {
      throw new LedgerError(`reserve: the key must be a non-empty string, got ${JSON.stringify(key)}`, {
        ...scope,
      });
    }
    checkAmount(entry.estimateUsd, "reserve: estimateUsd", scope, key);
    if (session.reservations.has(key)) {
      throw new LedgerError(
        `reserve: reservation "${key}" is already open in session ${scope.sessionId} (tenant ${scope.tenantId}); settle or release it first`,
        { ...scope, key },
      );
    }
    session.reservations.set(key, entry.estimateUsd);
    for (const a of [session.account, tenant.account]) {
      a.reservedUsd += entry.estimateUsd;
      a.open++;
    }
  }

  settle(scope: LedgerScope, key: string, actual: { usage: Usage; costUsd: number }): void {
    const { tenant, session } = this.#open(scope);
    const estimate = this.#reservation(session, scope, key, "settle");
    checkAmount(actual?.costUsd, "settle: costUsd", scope, key);
    checkUsage(actual.usage, scope, key);
    session.reservations.delete(key);
    for (const a of [session.account, tenant.account]) {
      close(a, estimate);
      addUsage(a.usage, actual.usage);
      a.costUsd += actual.costUsd;
      a.calls += 1;
    }
  }

  release(scope: LedgerScope, key: string): void {
    const { tenant, session } = this.#open(scope);
    const estimate = this.#reservation(session, scope, key, "release");
    session.reservations.delete(key);
    close(session.account, estimate);
    close(tenant.account, estimate);
  }

  totals(scope: LedgerScope | { readonly tenantId: string }): LedgerTotals {
    const tenant = this.#tenants.get(scope?.tenantId);
    const a =
      scope !== null && typeof scope === "object" && "sessionId" in scope
        ? tenant?.sessions.get(scope.sessionId)?.account
        : tenant?.account;
    if (!a) return { usage: emptyUsage(), costUsd: 0, reservedUsd: 0, calls: 0 };
    return {
      usage: { ...a.usage },
      costUsd: a.costUsd,
      reservedUsd: Math.max(0, a.reservedUsd),
      calls: a.calls,
    };
  }

  #reservation(session: Session, scope: LedgerScope, key: string, what: string): number {
    const estimate = session.reservations.get(key);
    if (estimate === undefined) {
      throw new LedgerError(
        `${what}: no open reservation "${String(key)}" in session ${scope.sessionId} (tenant ${scope.tenantId}); it was never reserved, or already settled or released`,
        { ...scope, key: String(key) },
      );
    }
    return estimate;
  }
}

function close(a: Account, estimate: number): void {
  a.open--;
  a.reservedUsd = a.open === 0 ? 0 : a.reservedUsd - estimate;
}

function checkScope(scope: LedgerScope): void {
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

function checkAmount(value: unknown, what: string, scope: LedgerScope, key: string): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new LedgerError(
      `${what} must be a finite number >= 0, got ${String(value)} (reservation "${key}", session ${scope.sessionId}, tenant ${scope.tenantId})`,
      { ...scope, key },
    );
  }
}

const USAGE_FIELDS = ["inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens"] as const;

function checkUsage(usage: Usage, scope: LedgerScope, key: string): void {
  for (const field of USAGE_FIELDS) {
    const n = usage?.[field];
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new LedgerError(
        `settle: usage.${field} must be an integer >= 0, got ${String(n)} (reservation "${key}", session ${scope.sessionId}, tenant ${scope.tenantId})`,
        { ...scope, key },
      );
    }
  }
}
