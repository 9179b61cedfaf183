import { LedgerError } from "../protocol/errors.js";
import { emptyUsage, type Usage } from "../protocol/messages.js";
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
import { ceilingRefusal, checkAmount, checkReserveAmounts, checkScope, checkUsage } from "./ledger-checks.js";

/** Settled and reserved amounts of one account; the usage's four counts are fields of it (no object of their own). */
interface Account {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
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
  readonly key: string;
  readonly model: string;
  readonly usd: number;
  readonly tokens: number;
  /** Shared budgets it was charged to besides the session and tenant: settle charges the same ones. */
  readonly budgets: readonly Account[];
}

/**
 * One session's entry: its account, its tenant and its open reservations. It carries its own ids and
 * its tenant, so the entry last used answers the next call of the same session with two compares, and
 * a call of another session costs two map lookups by the ids (whose hashes the strings keep): no key
 * is built and nothing is allocated to find it.
 */
interface Session {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly tenant: Tenant;
  readonly account: Account;
  /**
   * The oldest open reservation; the others, in the order they were made, in `more` (made when a second
   * is open at once, dropped when empty). A session has one reservation open at a time in the usual loop:
   * no map per session for it.
   */
  first: Reservation | undefined;
  more: Map<string, Reservation> | undefined;
  /** The run the `run` account measures, and the session's settled spend when it began. */
  runId: string | undefined;
  runBaseUsd: number;
  runBaseTokens: number;
  /** The last frozen ceilings list reserved against, and the shared budgets it charges (every call of a run has the same). */
  budgetCeilings: readonly Ceiling[] | undefined;
  budgetAccounts: readonly Account[];
  /** Among the closed sessions kept (`#closed`). */
  closed: boolean;
}

function account(): Account {
  return {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costUsd: 0,
    tokens: 0,
    reservedUsd: 0,
    reservedTokens: 0,
    calls: 0,
    open: 0,
  };
}

function newSession(tenant: Tenant, tenantId: string, sessionId: string): Session {
  return {
    tenantId,
    sessionId,
    tenant,
    account: account(),
    first: undefined,
    more: undefined,
    runId: undefined,
    runBaseUsd: 0,
    runBaseTokens: 0,
    budgetCeilings: undefined,
    budgetAccounts: NO_BUDGETS,
    closed: false,
  };
}

function reservationOf(session: Session, key: string): Reservation | undefined {
  const first = session.first;
  if (first !== undefined && first.key === key) return first;
  return session.more?.get(key);
}

function addReservation(session: Session, r: Reservation): void {
  // `first` is empty only when `more` is: the open reservations stay in the order they were made.
  if (session.first === undefined) {
    session.first = r;
    return;
  }
  if (session.more === undefined) session.more = new Map();
  session.more.set(r.key, r);
}

function deleteReservation(session: Session, r: Reservation): void {
  const more = session.more;
  if (session.first === r) {
    if (more === undefined) {
      session.first = undefined;
      return;
    }
    // The oldest of the others takes the first place.
    const [key, next] = more.entries().next().value as [string, Reservation];
    more.delete(key);
    session.first = next;
  } else more?.delete(r.key);
  if (more !== undefined && more.size === 0) session.more = undefined;
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
  /** Closed sessions still kept, oldest first (insertion order). */
  readonly #closed = new Set<Session>();

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
    // A session the ledger never saw leaves nothing to forget.
    const session = this.#tenants.get(scope.tenantId)?.sessions.get(scope.sessionId);
    if (session === undefined) return;
    this.#closed.delete(session);
    this.#closed.add(session);
    session.closed = true;
    for (const s of this.#closed) {
      if (this.#closed.size <= this.#retain) break;
      this.#closed.delete(s);
      s.closed = false;
      if (s.first !== undefined) continue;
      const sessions = s.tenant.sessions;
      if (sessions.get(s.sessionId) === s) sessions.delete(s.sessionId);
      if (this.#last === s) this.#last = undefined;
    }
  }
  /** The session of the last reservation, settlement or release: the next call is most often its. */
  #last: Session | undefined;

  #open(scope: LedgerScope): Session {
    const last = this.#last;
    const session =
      last !== undefined && last.sessionId === scope.sessionId && last.tenantId === scope.tenantId
        ? last
        : this.#openOther(scope);
    // Used again: no longer a closed session waiting to be forgotten.
    if (session.closed) {
      session.closed = false;
      this.#closed.delete(session);
    }
    return session;
  }

  /**
   * `#open` for a session other than the last one: a method of its own, so the compiled `#open` does
   * not carry this path. Two lookups by the ids; a first use creates the tenant and the session.
   */
  #openOther(scope: LedgerScope): Session {
    checkScope(scope);
    const tenantId = scope.tenantId;
    let tenant = this.#tenants.get(tenantId);
    if (tenant === undefined) {
      tenant = { account: account(), sessions: new Map(), budgets: new Map() };
      this.#tenants.set(tenantId, tenant);
    }
    let session = tenant.sessions.get(scope.sessionId);
    if (session === undefined) {
      session = newSession(tenant, tenantId, scope.sessionId);
      tenant.sessions.set(scope.sessionId, session);
    }
    this.#last = session;
    return session;
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
    const session = this.#open(scope);
    const tenant = session.tenant;
    const tokens = checkReserveAmounts(scope, entry);
    const key = entry.key;
    if (reservationOf(session, key) !== undefined) {
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
    addReservation(session, { key, model: String(entry.model), usd, tokens, budgets });
    open(session.account, usd, tokens);
    open(tenant.account, usd, tokens);
    for (let i = 0; i < budgets.length; i++) open(budgets[i]!, usd, tokens);
    return undefined;
  }

  settle(scope: LedgerScope, key: string, actual: { usage: Usage; costUsd: number }): void {
    const session = this.#open(scope);
    const r = this.#reservation(session, scope, key, "settle");
    checkAmount(actual?.costUsd, "settle: costUsd", scope, key);
    checkUsage(actual.usage, scope, key);
    deleteReservation(session, r);
    const tokens = tokensOf(actual.usage);
    charge(session.account, r, actual.usage, actual.costUsd, tokens);
    charge(session.tenant.account, r, actual.usage, actual.costUsd, tokens);
    for (let i = 0; i < r.budgets.length; i++) charge(r.budgets[i]!, r, actual.usage, actual.costUsd, tokens);
  }

  release(scope: LedgerScope, key: string): void {
    const session = this.#open(scope);
    const r = this.#reservation(session, scope, key, "release");
    deleteReservation(session, r);
    close(session.account, r);
    close(session.tenant.account, r);
    for (let i = 0; i < r.budgets.length; i++) close(r.budgets[i]!, r);
  }

  totals(scope: LedgerScope | { readonly tenantId: string }): LedgerTotals {
    const a =
      scope !== null && typeof scope === "object" && "sessionId" in scope
        ? this.#session(scope)?.account
        : this.#tenants.get(scope?.tenantId)?.account;
    if (!a) return { usage: emptyUsage(), costUsd: 0, reservedUsd: 0, calls: 0 };
    return {
      usage: {
        inputTokens: a.inputTokens,
        outputTokens: a.outputTokens,
        cacheReadTokens: a.cacheReadTokens,
        cacheWriteTokens: a.cacheWriteTokens,
      },
      costUsd: a.costUsd,
      reservedUsd: Math.max(0, a.reservedUsd),
      calls: a.calls,
    };
  }

  /** `totals(scope).costUsd` without the snapshot (0 for a session the ledger does not have). */
  sessionCostUsd(scope: LedgerScope): number {
    return this.#session(scope)?.account.costUsd ?? 0;
  }

  /** The session of `scope` if the ledger has it (without creating it): `#last`, or two lookups. */
  #session(scope: LedgerScope): Session | undefined {
    const last = this.#last;
    if (last !== undefined && last.sessionId === scope?.sessionId && last.tenantId === scope.tenantId)
      return last;
    return this.#tenants.get(scope?.tenantId)?.sessions.get(scope.sessionId);
  }

  /** The tenant of `scope` (without creating it), and its session if the ledger has it. */
  #tenantOf(scope: LedgerScope, session: Session | undefined): Tenant | undefined {
    return session !== undefined ? session.tenant : this.#tenants.get(scope?.tenantId);
  }

  usageOf(scope: LedgerScope, which: BudgetAccount): AccountUsage {
    const session = this.#session(scope);
    const tenant = this.#tenantOf(scope, session);
    if (tenant === undefined) return ZERO;
    const u = usageIn(tenant, session, which);
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
    const session = this.#session(scope);
    const tenant = this.#tenantOf(scope, session);
    if (tenant === undefined) return 0;
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
    const out: { key: string; model: string; estimateUsd: number; estimateTokens: number }[] = [];
    if (session === undefined || session.first === undefined) return out;
    const entry = (r: Reservation) => ({
      key: r.key,
      model: r.model,
      estimateUsd: r.usd,
      estimateTokens: r.tokens,
    });
    out.push(entry(session.first));
    if (session.more !== undefined) for (const r of session.more.values()) out.push(entry(r));
    return out;
  }

  #reservation(session: Session, scope: LedgerScope, key: string, what: string): Reservation {
    const r = reservationOf(session, key);
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
  a.inputTokens += usage.inputTokens;
  a.outputTokens += usage.outputTokens;
  a.cacheReadTokens += usage.cacheReadTokens;
  a.cacheWriteTokens += usage.cacheWriteTokens;
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
  // Two open at once: the session's `more` holds a map.
  ledger.reserveAgainst(scope, entry("open-2", "-2"), ceilings);
  keepShapes(ledger);
}
keepLedgerShapes();
