import { addUsage, emptyUsage, type Usage } from "../protocol/messages.js";
import type { Ledger, LedgerScope, LedgerTotals } from "./ledger.js";

interface Account {
  usage: Usage;
  costUsd: number;
  reservedUsd: number;
  calls: number;
  open: Map<string, number>;
}

function account(): Account {
  return { usage: emptyUsage(), costUsd: 0, reservedUsd: 0, calls: 0, open: new Map() };
}

/** In-process ledger with O(1) updates: running totals per session and per tenant. */
export class MemoryLedger implements Ledger {
  readonly #sessions = new Map<string, Account>();
  readonly #tenants = new Map<string, Account>();

  #last: { tenantId: string; sessionId: string; accounts: [Account, Account] } | undefined;

  #accounts(scope: LedgerScope): [Account, Account] {
    const last = this.#last;
    if (last && last.sessionId === scope.sessionId && last.tenantId === scope.tenantId) return last.accounts;
    const key = `${scope.tenantId}\u0000${scope.sessionId}`;
    let s = this.#sessions.get(key);
    if (!s) {
      s = account();
      this.#sessions.set(key, s);
    }
    let t = this.#tenants.get(scope.tenantId);
    if (!t) {
      t = account();
      this.#tenants.set(scope.tenantId, t);
    }
    const accounts: [Account, Account] = [s, t];
    this.#last = { tenantId: scope.tenantId, sessionId: scope.sessionId, accounts };
    return accounts;
  }

  reserve(scope: LedgerScope, entry: { key: string; model: string; estimateUsd: number }): void {
    const key = `${scope.sessionId}\u0000${entry.key}`;
    for (const a of this.#accounts(scope)) {
      a.reservedUsd += entry.estimateUsd - (a.open.get(key) ?? 0);
      a.open.set(key, entry.estimateUsd);
    }
  }

  settle(scope: LedgerScope, reservation: string, actual: { usage: Usage; costUsd: number }): void {
    const key = `${scope.sessionId}\u0000${reservation}`;
    for (const a of this.#accounts(scope)) {
      a.reservedUsd -= a.open.get(key) ?? 0;
      a.open.delete(key);
      addUsage(a.usage, actual.usage);
      a.costUsd += actual.costUsd;
      a.calls += 1;
    }
  }

  release(scope: LedgerScope, reservation: string): void {
    const key = `${scope.sessionId}\u0000${reservation}`;
    for (const a of this.#accounts(scope)) {
      a.reservedUsd -= a.open.get(key) ?? 0;
      a.open.delete(key);
    }
  }

  totals(scope: LedgerScope | { readonly tenantId: string }): LedgerTotals {
    const a =
      "sessionId" in scope
        ? this.#sessions.get(`${scope.tenantId}\u0000${scope.sessionId}`)
        : this.#tenants.get(scope.tenantId);
    if (!a) return { usage: emptyUsage(), costUsd: 0, reservedUsd: 0, calls: 0 };
    return {
      usage: { ...a.usage },
      costUsd: a.costUsd,
      reservedUsd: Math.max(0, a.reservedUsd),
      calls: a.calls,
    };
  }
}
