import { LedgerError } from "../protocol/errors.js";
import { addUsage, emptyUsage, type Usage } from "../protocol/messages.js";
import { keepShapes } from "../protocol/shape-keeper.js";
import {
  type AccountUsage,
  type BudgetAccount,
  type Ceiling,
  type Ledger,
  type LedgerScope,
  type LedgerTotals,
  type ReservationRefusal,
  type ReserveEntry,
  tokensOf,
} from "./ledger.js";
import { ceilingRefusal, checkAmount, checkReserveEntry, checkScope, checkUsage } from "./ledger-checks.js";

interface Account {
  usage: Usage;
  costUsd: number;
  /** Settled tokens: input, output, cache read and cache write. */
  tokens: number;
  reservedUsd: number;
  reservedTokens: number;
  calls: number;
  /** Open reservations counted in `reservedUsd`; at 0, the reserved amounts are exactly 0 (no float residue). */
  open: number;
}

interface Tenant {
  readonly account: Account;
  readonly sessions: Map<string, Session>;
  /** Shared named budgets, by account (`budget:<name>`). */
  readonly budgets: Map<string, Account>;
}

interface Reservation {
  readonly model: string;
  readonly usd: number;
  readonly tokens: number;
  /** Shared budgets it was charged to besides the session and tenant: settle charges the same ones. */
  readonly budgets: readonly Account[];
}

interface Session {
  readonly account: Account;
  /** Open reservations by key. Keys are per session, so equal keys elsewhere never meet. */
  readonly reservations: Map<string, Reservation>;
  /** The run the `run` account measures, and the session's settled spend when it began. */
  runId: string | undefined;
  runBaseUsd: number;
  runBaseTokens: number;
  /** The last frozen ceilings list reserved against, and the shared budgets it charges (every call of a run has the same). */
  budgetCeilings: readonly Ceiling[] | undefined;
  budgetAccounts: readonly Account[];
}

function account(): Account {
  return { usage: emptyUsage(), costUsd: 0, tokens: 0, reservedUsd: 0, reservedTokens: 0, calls: 0, open: 0 };
}

const NO_BUDGETS: readonly Account[] = Object.freeze([]);
const ZERO: AccountUsage = Object.freeze({ costUsd: 0, tokens: 0, reservedUsd: 0, reservedTokens: 0 });

/**
 * In-process ledger with O(1) updates: running totals per session, per tenant and per shared named
 * budget. It enforces ceilings: `reserve` checks an entry's ceilings and reserves synchronously, in
 * one step, so no other reservation can come between the check and the charge.
 */
export interface MemoryLedgerOptions {
  /**
   * Closed sessions whose own totals stay readable (`totals({ tenantId, sessionId })`), most recent
   * first (default 256). Older ones are forgotten: their spend stays in the tenant's totals and in
   * every shared budget, so a long-lived process does not grow with every session it has served.
   */
  readonly retainClosedSessions?: number;
}

export class MemoryLedger implements Ledger {
  /** tenant → session. Nested rather than a joined key, so no pair of ids can collide. */
  readonly #tenants = new Map<string, Tenant>();
  readonly #retain: number;
  /** Closed sessions still kept, oldest first (insertion order), as `tenantId\0sessionId`. */
  readonly #closed = new Map<string, { tenantId: string; sessionId: string }>();

  constructor(options: MemoryLedgerOptions = {}) {
    const n = options.retainClosedSessions ?? 256;
    if (!Number.isInteger(n) || n < 0)
      throw new RangeError(
        `MemoryLedger: retainClosedSessions must be an integer >= 0, got ${String(options.retainClosedSessions)}`,
      );
    this.#retain = n;
  }

  /**
   * The session closed: its account is kept among the last `retainClosedSessions` closed ones,
   * then forgotten (not while it holds an open reservation). A session that runs again under the
   * same id before that is simply reopened.
   */
  sessionClosed(scope: LedgerScope): void {
    checkScope(scope);
    const id = `${scope.tenantId}\0${scope.sessionId}`;
    this.#closed.delete(id);
    this.#closed.set(id, { tenantId: scope.tenantId, sessionId: scope.sessionId });
    for (const [key, s] of this.#closed) {
      if (this.#closed.size <= this.#retain) break;
      this.#closed.delete(key);
      const tenant = this.#tenants.get(s.tenantId);
      const session = tenant?.sessions.get(s.sessionId);
      if (!tenant || !session || session.reservations.size > 0) continue;
      tenant.sessions.delete(s.sessionId);
      if (this.#last?.session === session) this.#last = undefined;
    }
  }
  #last: { tenantId: string; sessionId: string; tenant: Tenant; session: Session } | undefined;

  #open(scope: LedgerScope): { tenant: Tenant; session: Session } {
    const last = this.#last;
    if (last && last.sessionId === scope.sessionId && last.tenantId === scope.tenantId) return last;
    return this.#openOther(scope);
  }

  /**
   * `#open` for a session other than the last one (once per session and run in the usual loop): a
   * method of its own, so the compiled `#open` does not carry this rarely run path, and does not
   * have to be thrown away the first time it runs.
   */
  #openOther(scope: LedgerScope): { tenant: Tenant; session: Session } {
    checkScope(scope);
    // Used again: no longer a closed session waiting to be forgotten.
    if (this.#closed.size > 0) this.#closed.delete(`${scope.tenantId}\0${scope.sessionId}`);
    let tenant = this.#tenants.get(scope.tenantId);
    if (!tenant) {
      tenant = { account: account(), sessions: new Map(), budgets: new Map() };
      this.#tenants.set(scope.tenantId, tenant);
    }
    let session = tenant.sessions.get(scope.sessionId);
    if (!session) {
      session = {
        account: account(),
        reservations: new Map(),
        runId: undefined,
        runBaseUsd: 0,
        runBaseTokens: 0,
        budgetCeilings: undefined,
        budgetAccounts: NO_BUDGETS,
      };
      tenant.sessions.set(scope.sessionId, session);
    }
    this.#last = { tenantId: scope.tenantId, sessionId: scope.sessionId, tenant, session };
    return this.#last;
  }

  reserve(scope: LedgerScope, entry: ReserveEntry): ReservationRefusal | undefined {
    return this.reserveAgainst(scope, entry, entry?.ceilings ?? NO_BUDGETS_CEILINGS);
  }

  /**
   * @internal `reserve` with `ceilings` in place of the entry's own (which it ignores): what a budget's
   * ledger calls when the entry has none of its own, so no copy of the entry is made per reservation.
   */
  reserveAgainst(
    scope: LedgerScope,
    entry: ReserveEntry,
    ceilings: readonly Ceiling[],
  ): ReservationRefusal | undefined {
    const { tenant, session } = this.#open(scope);
    const { key, tokens } = checkReserveEntry(scope, entry);
    if (session.reservations.has(key)) {
      throw new LedgerError(
        `reserve: reservation "${key}" is already open in session ${scope.sessionId} (tenant ${scope.tenantId}); settle or release it first`,
        { ...scope, key },
      );
    }
    if (entry.runId !== undefined && entry.runId !== session.runId) {
      session.runId = entry.runId;
      session.runBaseUsd = session.account.costUsd;
      session.runBaseTokens = session.account.tokens;
    }
    const usd = entry.estimateUsd;
    // Check every ceiling first, then charge: nothing can come between (this method never yields).
    for (let i = 0; i < ceilings.length; i++) {
      const ceiling = ceilings[i]!;
      if (!crosses(ceiling, tenant, session, usd, tokens)) continue;
      const refusal = ceilingRefusal(ceiling, usageIn(tenant, session, ceiling.account), usd, tokens);
      if (refusal) return refusal;
    }
    let budgets: readonly Account[];
    if (ceilings.length === 0) budgets = NO_BUDGETS;
    else if (ceilings === session.budgetCeilings) budgets = session.budgetAccounts;
    else {
      budgets = budgetsOf(tenant, ceilings);
      // A frozen list cannot change: the next reservation with it charges the same budgets.
      if (Object.isFrozen(ceilings)) {
        session.budgetCeilings = ceilings;
        session.budgetAccounts = budgets;
      }
    }
    session.reservations.set(key, { model: String(entry.model), usd, tokens, budgets });
    open(session.account, usd, tokens);
    open(tenant.account, usd, tokens);
    for (const b of budgets) open(b, usd, tokens);
    return undefined;
  }

  settle(scope: LedgerScope, key: string, actual: { usage: Usage; costUsd: number }): void {
    const { tenant, session } = this.#open(scope);
    const r = this.#reservation(session, scope, key, "settle");
    checkAmount(actual?.costUsd, "settle: costUsd", scope, key);
    checkUsage(actual.usage, scope, key);
    session.reservations.delete(key);
    const tokens = tokensOf(actual.usage);
    charge(session.account, r, actual.usage, actual.costUsd, tokens);
    charge(tenant.account, r, actual.usage, actual.costUsd, tokens);
    for (let i = 0; i < r.budgets.length; i++) charge(r.budgets[i]!, r, actual.usage, actual.costUsd, tokens);
  }

  release(scope: LedgerScope, key: string): void {
    const { tenant, session } = this.#open(scope);
    const r = this.#reservation(session, scope, key, "release");
    session.reservations.delete(key);
    close(session.account, r);
    close(tenant.account, r);
    for (const b of r.budgets) close(b, r);
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

  /**
   * The tenant and session of `scope`, without creating either. The last reservation's session is
   * the one asked about step after step: it is answered from `#last`, with no lookup and no object.
   */
  #find(scope: LedgerScope): { tenant: Tenant; session: Session | undefined } | undefined {
    const last = this.#last;
    if (last !== undefined && last.sessionId === scope?.sessionId && last.tenantId === scope.tenantId)
      return last;
    const tenant = this.#tenants.get(scope?.tenantId);
    return tenant && { tenant, session: tenant.sessions.get(scope.sessionId) };
  }

  usageOf(scope: LedgerScope, which: BudgetAccount): AccountUsage {
    const found = this.#find(scope);
    if (!found) return ZERO;
    const u = usageIn(found.tenant, found.session, which);
    if (u === ZERO) return ZERO;
    return {
      costUsd: u.costUsd,
      tokens: u.tokens,
      reservedUsd: Math.max(0, u.reservedUsd),
      reservedTokens: Math.max(0, u.reservedTokens),
    };
  }

  /**
   * @internal The budget guard's warning check: the settled share of `ceiling` (the larger of cost and
   * tokens), as `usageOf` would give it, without making a snapshot object. 0 for an unknown account.
   */
  settledShare(scope: LedgerScope, ceiling: Ceiling): number {
    const found = this.#find(scope);
    if (!found) return 0;
    const { tenant, session } = found;
    const which = ceiling.account;
    let costUsd: number;
    let tokens: number;
    if (which === "session" || which === "run") {
      if (!session) return 0;
      const a = session.account;
      costUsd = which === "run" ? a.costUsd - session.runBaseUsd : a.costUsd;
      tokens = which === "run" ? a.tokens - session.runBaseTokens : a.tokens;
    } else {
      const b = tenant.budgets.get(which);
      if (!b) return 0;
      costUsd = b.costUsd;
      tokens = b.tokens;
    }
    const byUsd = ceiling.maxCostUsd ? costUsd / ceiling.maxCostUsd : 0;
    const byTokens = ceiling.maxTokens ? tokens / ceiling.maxTokens : 0;
    return Math.max(byUsd, byTokens);
  }

  openReservations(
    scope: LedgerScope,
  ): { key: string; model: string; estimateUsd: number; estimateTokens: number }[] {
    const session = this.#tenants.get(scope?.tenantId)?.sessions.get(scope.sessionId);
    if (!session) return [];
    return [...session.reservations].map(([key, r]) => ({
      key,
      model: r.model,
      estimateUsd: r.usd,
      estimateTokens: r.tokens,
    }));
  }

  #reservation(session: Session, scope: LedgerScope, key: string, what: string): Reservation {
    const r = session.reservations.get(key);
    if (r === undefined) {
      throw new LedgerError(
        `${what}: no open reservation "${String(key)}" in session ${scope.sessionId} (tenant ${scope.tenantId}); it was never reserved, or already settled or released`,
        { ...scope, key: String(key) },
      );
    }
    return r;
  }
}

const NO_BUDGETS_CEILINGS: readonly Ceiling[] = Object.freeze([]);
const EMPTY_ACCOUNT: Account = Object.freeze(account());

function usageIn(tenant: Tenant, session: Session | undefined, which: BudgetAccount): AccountUsage {
  if (which === "session") return session?.account ?? ZERO;
  if (which === "run") {
    if (!session) return ZERO;
    const a = session.account;
    // One run at a time per session: every open reservation of the session belongs to its run.
    return {
      costUsd: a.costUsd - session.runBaseUsd,
      tokens: a.tokens - session.runBaseTokens,
      reservedUsd: a.reservedUsd,
      reservedTokens: a.reservedTokens,
    };
  }
  return tenant.budgets.get(which) ?? ZERO;
}

/**
 * Whether reserving `usd` and `tokens` would cross `ceiling`: `ceilingRefusal`'s test, read straight
 * from the account (no snapshot object per ceiling per reservation).
 */
function crosses(ceiling: Ceiling, tenant: Tenant, session: Session, usd: number, tokens: number): boolean {
  const which = ceiling.account;
  let a: Account | undefined;
  let baseUsd = 0;
  let baseTokens = 0;
  if (which === "session") a = session.account;
  else if (which === "run") {
    a = session.account;
    baseUsd = session.runBaseUsd;
    baseTokens = session.runBaseTokens;
  } else a = tenant.budgets.get(which);
  if (a === undefined) a = EMPTY_ACCOUNT;
  return (
    (ceiling.maxCostUsd !== undefined && a.costUsd - baseUsd + a.reservedUsd + usd > ceiling.maxCostUsd) ||
    (ceiling.maxTokens !== undefined && a.tokens - baseTokens + a.reservedTokens + tokens > ceiling.maxTokens)
  );
}

/** The shared budgets a list of ceilings charges (created on first use), each once. */
function budgetsOf(tenant: Tenant, ceilings: readonly Ceiling[]): readonly Account[] {
  let budgets = NO_BUDGETS;
  for (const ceiling of ceilings) {
    if (!ceiling.account.startsWith("budget:")) continue;
    let b = tenant.budgets.get(ceiling.account);
    if (!b) {
      b = account();
      tenant.budgets.set(ceiling.account, b);
    }
    if (!budgets.includes(b)) budgets = [...budgets, b];
  }
  return budgets;
}

function charge(a: Account, r: Reservation, usage: Usage, costUsd: number, tokens: number): void {
  close(a, r);
  addUsage(a.usage, usage);
  a.costUsd += costUsd;
  a.tokens += tokens;
  a.calls += 1;
}

function open(a: Account, usd: number, tokens: number): void {
  a.reservedUsd += usd;
  a.reservedTokens += tokens;
  a.open++;
}

function close(a: Account, r: Reservation): void {
  a.open--;
  a.reservedUsd = a.open === 0 ? 0 : a.reservedUsd - r.usd;
  a.reservedTokens = a.open === 0 ? 0 : a.reservedTokens - r.tokens;
}

/** Validates a `retainClosedSessions` option (an integer >= 0; default 256). */
export function retainOption(value: number | undefined, owner: string): number {
  const n = value ?? 256;
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`${owner}: retainClosedSessions must be an integer >= 0, got ${String(value)}`);
  return n;
}

/**
 * One ledger with a tenant, a session, a shared budget, a settled and an open reservation, kept for
 * the process's life. V8 holds object shapes weakly: once every ledger of a harness is collected,
 * the shapes of its accounts, sessions and reservations go, and the compiled code of every
 * reservation, settlement and budget check (which reads them on every model call) is thrown away,
 * for the next harness to compile again. Amounts in dollars are fractional here, as real ones are,
 * so a real ledger never widens a field's representation (which would give it shapes of its own).
 */
function keepLedgerShapes(): void {
  const ledger = new MemoryLedger();
  const scope: LedgerScope = { tenantId: "-", sessionId: "-" };
  const ceilings: readonly Ceiling[] = Object.freeze([
    Object.freeze({ account: "run", maxCostUsd: 1.5, maxTokens: 1_000.5 }),
    Object.freeze({ account: "session", maxCostUsd: 1.5, maxTokens: 1_000.5 }),
    Object.freeze({ account: "budget:-", maxCostUsd: 1.5, maxTokens: 1_000.5 }),
  ] as Ceiling[]);
  const entry = (key: string, runId: string): ReserveEntry => ({
    key,
    model: "-",
    estimateUsd: 0.25,
    estimateTokens: 10,
    runId,
  });
  ledger.reserveAgainst(scope, entry("settled", "-"), ceilings);
  ledger.settle(scope, "settled", {
    usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 },
    costUsd: 0.125,
  });
  // A second run: its base amounts are fractional too.
  ledger.reserveAgainst(scope, entry("open", "-2"), ceilings);
  keepShapes(ledger);
}
keepLedgerShapes();
