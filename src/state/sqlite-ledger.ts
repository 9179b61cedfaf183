import {
  type AccountUsage,
  type BudgetAccount,
  type Ledger,
  type LedgerScope,
  type LedgerTotals,
  type ReservationRefusal,
  type ReserveEntry,
  tokensOf,
} from "../guards/ledger.js";
import {
  ceilingRefusal,
  checkAmount,
  checkReserveEntry,
  checkScope,
  checkUsage,
} from "../guards/ledger-checks.js";
import { LedgerError } from "../protocol/errors.js";
import type { Usage } from "../protocol/messages.js";
import type { Database, Statement } from "./sqlite-driver.js";
import type { OpenReservation } from "./store.js";

interface Row {
  cost: number;
  input: number;
  output: number;
  cache_read: number;
  cache_write: number;
  tokens: number;
  reserved_usd: number;
  reserved_tokens: number;
  calls: number;
  open: number;
  run_id: string | null;
  run_base_usd: number;
  run_base_tokens: number;
}

type TotalsRow = Pick<
  Row,
  "cost" | "input" | "output" | "cache_read" | "cache_write" | "reserved_usd" | "calls" | "open"
>;

const ZERO_ROW: Row = Object.freeze({
  cost: 0,
  input: 0,
  output: 0,
  cache_read: 0,
  cache_write: 0,
  tokens: 0,
  reserved_usd: 0,
  reserved_tokens: 0,
  calls: 0,
  open: 0,
  run_id: null,
  run_base_usd: 0,
  run_base_tokens: 0,
});

type Delta = Omit<Row, "run_id" | "run_base_usd" | "run_base_tokens">;

/** The store's side of the ledger: queue a write for the next batch, or run a transaction after it. */
interface Batcher {
  enqueue(op: () => void): void;
  transact<R>(fn: () => R): R;
}

// JSON arrays, not joined strings: no pair of ids can collide whatever characters they hold.
const sessionId = (s: LedgerScope) => JSON.stringify(["s", s.tenantId, s.sessionId]);
const tenantId = (t: string) => JSON.stringify(["t", t]);
const budgetId = (t: string, b: string) => JSON.stringify(["b", t, b]);
const resId = (s: LedgerScope, key: string) => JSON.stringify([s.tenantId, s.sessionId, key]);
const DUPLICATE = Symbol("duplicate");
const NO_BUDGETS: readonly string[] = Object.freeze([]);

/** An open reservation's amounts; `accounts` (the ids it charged) when this process opened it. */
interface OpenRow {
  est_usd: number;
  est_tokens: number;
  budgets: string;
  accounts?: readonly string[];
}
const alreadyOpen = (scope: LedgerScope, key: string) =>
  new LedgerError(
    `reserve: reservation "${key}" is already open in session ${scope.sessionId} (tenant ${scope.tenantId}); settle or release it first`,
    { ...scope, key },
  );

/**
 * The ledger in the SQLite store, so reservations survive a crash and every process on the file
 * draws on one budget. `reserve` is one short `BEGIN IMMEDIATE` transaction (the ceiling check and
 * the reservation are atomic across processes; it also commits this process's queued batch first).
 * `settle` and `release` are queued into the event batch, so a settlement commits together with
 * the events written in the same tick (the model call's `model_call_finished`): after a crash the
 * ledger and the log agree. Until that commit, this process reads its own queued changes.
 */
export class SqliteLedger implements Ledger {
  readonly #batcher: Batcher;
  readonly #s: Record<
    | "getAccount"
    | "getTotals"
    | "ensure"
    | "reserveAcc"
    | "closeAcc"
    | "setRun"
    | "insertRes"
    | "getRes"
    | "deleteRes"
    | "openRes"
    | "reserveSession",
    Statement
  >;
  /** Queued (not yet committed) changes per account, and reservations queued to close. */
  #delta = new Map<string, Delta>();
  #closing = new Set<string>();
  /** Account rows known to exist (rows are never deleted), so `reserve` does not insert them again. */
  readonly #accounts = new Set<string>();
  /** Reservations this process opened and has not closed: `settle` finds them without a query. */
  readonly #opened = new Map<string, OpenRow>();
  /**
   * Session accounts as this process's last reserve transaction left them (read by that transaction's
   * own UPDATE), until a commit of this process changes them again. While this process has queued
   * changes to the session's account (it is settling the call it reserved: `totals` right after a
   * model call's settle, every call), `totals` adds them to this row instead of reading the file (a
   * read transaction: two lock syscalls and a query). Nothing else writes the account in that window:
   * a session has one writer at a time (the store refuses a second writer's events), and this process
   * is it. Without queued changes, `totals` reads the file (another process may have resumed the
   * session and settled since).
   */
  readonly #fresh = new Map<string, TotalsRow>();

  constructor(db: Database, batcher: Batcher) {
    this.#batcher = batcher;
    this.#s = {
      getAccount: db.prepare("SELECT * FROM accounts WHERE id = ?"),
      getTotals: db.prepare(
        "SELECT cost, input, output, cache_read, cache_write, reserved_usd, calls, open FROM accounts WHERE id = ?",
      ),
      ensure: db.prepare("INSERT INTO accounts (id) VALUES (?) ON CONFLICT (id) DO NOTHING"),
      reserveAcc: db.prepare(
        "UPDATE accounts SET reserved_usd = reserved_usd + ?, reserved_tokens = reserved_tokens + ?, open = open + 1 WHERE id = ?",
      ),
      closeAcc: db.prepare(
        `UPDATE accounts SET cost = cost + ?, input = input + ?, output = output + ?, cache_read = cache_read + ?,
         cache_write = cache_write + ?, tokens = tokens + ?, calls = calls + ?,
         reserved_usd = CASE WHEN open - 1 <= 0 THEN 0 ELSE reserved_usd - ? END,
         reserved_tokens = CASE WHEN open - 1 <= 0 THEN 0 ELSE reserved_tokens - ? END,
         open = open - 1 WHERE id = ?`,
      ),
      // A no-op (no row written) when the run is already the account's: no read before it.
      setRun: db.prepare(
        "UPDATE accounts SET run_id = ?1, run_base_usd = cost, run_base_tokens = tokens WHERE id = ?2 AND run_id IS NOT ?1",
      ),
      // A key already open inserts nothing (`changes` 0): the duplicate check costs no query of its own.
      insertRes: db.prepare(
        `INSERT INTO reservations (tenant, session, key, model, est_usd, est_tokens, budgets, opened)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,
           (SELECT coalesce(max(opened), 0) + 1 FROM reservations WHERE tenant = ?1 AND session = ?2))
         ON CONFLICT (tenant, session, key) DO NOTHING`,
      ),
      getRes: db.prepare("SELECT * FROM reservations WHERE tenant = ? AND session = ? AND key = ?"),
      deleteRes: db.prepare("DELETE FROM reservations WHERE tenant = ? AND session = ? AND key = ?"),
      openRes: db.prepare(
        "SELECT key, model, est_usd, est_tokens FROM reservations WHERE tenant = ? AND session = ? ORDER BY opened",
      ),
      // The session account's reservation, its run (as setRun: the base is the cost before this
      // run's first call; SET reads the row as it was) and its totals, in one statement.
      reserveSession: db.prepare(
        `UPDATE accounts SET
           run_base_usd = CASE WHEN ?1 IS NOT NULL AND run_id IS NOT ?1 THEN cost ELSE run_base_usd END,
           run_base_tokens = CASE WHEN ?1 IS NOT NULL AND run_id IS NOT ?1 THEN tokens ELSE run_base_tokens END,
           run_id = coalesce(?1, run_id),
           reserved_usd = reserved_usd + ?2, reserved_tokens = reserved_tokens + ?3, open = open + 1
         WHERE id = ?4
         RETURNING cost, input, output, cache_read, cache_write, reserved_usd, calls, open`,
      ),
    };
  }

  /** Called by the store once a batch has committed: the queued changes are now in the rows. */
  committed(): void {
    if (this.#delta.size > 0) {
      // Those accounts changed in this commit: their rows are read from the file again.
      for (const id of this.#delta.keys()) this.#fresh.delete(id);
      this.#delta = new Map();
    }
    if (this.#closing.size > 0) this.#closing = new Set();
  }

  #row(id: string): Row {
    const row = (this.#s.getAccount.get(id) as Row | undefined) ?? ZERO_ROW;
    const d = this.#delta.get(id);
    if (!d) return row;
    const open = row.open + d.open;
    return {
      ...row,
      cost: row.cost + d.cost,
      input: row.input + d.input,
      output: row.output + d.output,
      cache_read: row.cache_read + d.cache_read,
      cache_write: row.cache_write + d.cache_write,
      tokens: row.tokens + d.tokens,
      calls: row.calls + d.calls,
      open,
      reserved_usd: open <= 0 ? 0 : row.reserved_usd + d.reserved_usd,
      reserved_tokens: open <= 0 ? 0 : row.reserved_tokens + d.reserved_tokens,
    };
  }

  #isOpen(scope: LedgerScope, key: string, id: string): OpenRow | undefined {
    if (this.#closing.has(id)) return undefined;
    const mine = this.#opened.get(id);
    if (mine) return mine;
    return this.#s.getRes.get(scope.tenantId, scope.sessionId, key) as OpenRow | undefined;
  }

  reserve(scope: LedgerScope, entry: ReserveEntry): ReservationRefusal | undefined {
    checkScope(scope);
    const { key, tokens } = checkReserveEntry(scope, entry);
    const id = resId(scope, key);
    if (this.#opened.has(id)) throw alreadyOpen(scope, key);
    const usd = entry.estimateUsd;
    const ceilings = entry.ceilings ?? [];
    const ensured: string[] = [];
    const ensure = (id: string) => {
      if (this.#accounts.has(id)) return;
      this.#s.ensure.run(id);
      ensured.push(id);
    };
    const budgetsOf =
      ceilings.length === 0
        ? NO_BUDGETS
        : [...new Set(ceilings.filter((c) => c.account.startsWith("budget:")).map((c) => c.account))];
    const { tenantId: t, sessionId: sess } = scope;
    const sid = sessionId(scope);
    const tid = tenantId(t);
    const accounts = [sid, tid, ...budgetsOf.map((b) => budgetId(t, b))];
    const reservation: OpenRow = {
      est_usd: usd,
      est_tokens: tokens,
      budgets: budgetsOf === NO_BUDGETS ? "[]" : JSON.stringify(budgetsOf),
      accounts,
    };
    let totals: TotalsRow | undefined;
    const refusal = this.#batcher.transact((): ReservationRefusal | typeof DUPLICATE | undefined => {
      // The queued batch was just applied in this transaction: the rows are this process's state.
      this.committed();
      // Open in the file (another process, or a run before a crash): nothing is written.
      const inserted = this.#s.insertRes.run(
        t,
        sess,
        key,
        String(entry.model),
        usd,
        tokens,
        reservation.budgets,
      );
      if (Number(inserted.changes) === 0) return DUPLICATE;
      ensure(sid);
      ensure(tid);
      if (ceilings.length > 0) {
        // The run's base is set before the ceilings are checked (a `run` ceiling reads it).
        if (entry.runId !== undefined) this.#s.setRun.run(entry.runId, sid);
        for (const ceiling of ceilings) {
          const refusal = ceilingRefusal(ceiling, this.usageOf(scope, ceiling.account), usd, tokens);
          if (refusal) {
            this.#s.deleteRes.run(t, sess, key);
            return refusal;
          }
        }
      }
      totals = this.#s.reserveSession.get(entry.runId ?? null, usd, tokens, sid) as TotalsRow;
      for (let i = 1; i < accounts.length; i++) {
        const id = accounts[i]!;
        ensure(id);
        this.#s.reserveAcc.run(usd, tokens, id);
      }
      return undefined;
    });
    // Committed (transact threw otherwise): the rows exist, the reservation is open.
    for (const id of ensured) this.#accounts.add(id);
    if (refusal === DUPLICATE) throw alreadyOpen(scope, key);
    if (!refusal) {
      this.#opened.set(id, reservation);
      if (totals) this.#fresh.set(sid, totals);
    }
    return refusal;
  }

  settle(scope: LedgerScope, key: string, actual: { usage: Usage; costUsd: number }): void {
    checkScope(scope);
    const r = this.#open(scope, key, "settle");
    checkAmount(actual?.costUsd, "settle: costUsd", scope, key);
    checkUsage(actual.usage, scope, key);
    this.#close(scope, key, r, actual.usage, actual.costUsd);
  }

  release(scope: LedgerScope, key: string): void {
    checkScope(scope);
    const r = this.#open(scope, key, "release");
    this.#close(scope, key, r, undefined, 0);
  }

  #open(scope: LedgerScope, key: string, what: string): OpenRow {
    const r = typeof key === "string" ? this.#isOpen(scope, key, resId(scope, key)) : undefined;
    if (!r) {
      throw new LedgerError(
        `${what}: no open reservation "${String(key)}" in session ${scope.sessionId} (tenant ${scope.tenantId}); it was never reserved, or already settled or released`,
        { ...scope, key: String(key) },
      );
    }
    return r;
  }

  #close(scope: LedgerScope, key: string, r: OpenRow, usage: Usage | undefined, costUsd: number): void {
    const ids = r.accounts ?? [
      sessionId(scope),
      tenantId(scope.tenantId),
      ...(JSON.parse(r.budgets) as string[]).map((b) => budgetId(scope.tenantId, b)),
    ];
    const u = usage ?? { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
    const tokens = usage ? tokensOf(usage) : 0;
    const calls = usage ? 1 : 0;
    const rid = resId(scope, key);
    this.#closing.add(rid);
    this.#opened.delete(rid);
    for (const id of ids) {
      const d = this.#delta.get(id) ?? {
        cost: 0,
        input: 0,
        output: 0,
        cache_read: 0,
        cache_write: 0,
        tokens: 0,
        reserved_usd: 0,
        reserved_tokens: 0,
        calls: 0,
        open: 0,
      };
      d.cost += costUsd;
      d.input += u.inputTokens;
      d.output += u.outputTokens;
      d.cache_read += u.cacheReadTokens;
      d.cache_write += u.cacheWriteTokens;
      d.tokens += tokens;
      d.calls += calls;
      d.open -= 1;
      d.reserved_usd -= r.est_usd;
      d.reserved_tokens -= r.est_tokens;
      this.#delta.set(id, d);
    }
    const s = this.#s;
    const { tenantId: t, sessionId: sess } = scope;
    this.#batcher.enqueue(() => {
      s.deleteRes.run(t, sess, key);
      for (const id of ids)
        s.closeAcc.run(
          costUsd,
          u.inputTokens,
          u.outputTokens,
          u.cacheReadTokens,
          u.cacheWriteTokens,
          tokens,
          calls,
          r.est_usd,
          r.est_tokens,
          id,
        );
    });
  }

  totals(scope: LedgerScope | { readonly tenantId: string }): LedgerTotals {
    const isSession = scope !== null && typeof scope === "object" && "sessionId" in scope;
    const id = isSession ? sessionId(scope as LedgerScope) : tenantId(scope?.tenantId);
    const d = this.#delta.get(id);
    // Read from the file (another process may have written the account; only the columns totals
    // need), unless this process is settling the session's reservation it just opened (see #fresh).
    const a =
      (isSession && d !== undefined ? this.#fresh.get(id) : undefined) ??
      (this.#s.getTotals.get(id) as TotalsRow | undefined) ??
      ZERO_ROW;
    const open = d ? a.open + d.open : a.open;
    return {
      usage: {
        inputTokens: d ? a.input + d.input : a.input,
        outputTokens: d ? a.output + d.output : a.output,
        cacheReadTokens: d ? a.cache_read + d.cache_read : a.cache_read,
        cacheWriteTokens: d ? a.cache_write + d.cache_write : a.cache_write,
      },
      costUsd: d ? a.cost + d.cost : a.cost,
      reservedUsd: !d
        ? Math.max(0, a.reserved_usd)
        : open <= 0
          ? 0
          : Math.max(0, a.reserved_usd + d.reserved_usd),
      calls: d ? a.calls + d.calls : a.calls,
    };
  }

  usageOf(scope: LedgerScope, which: BudgetAccount): AccountUsage {
    const a =
      which === "session" || which === "run"
        ? this.#row(sessionId(scope))
        : this.#row(budgetId(scope.tenantId, which));
    const base = which === "run" ? { usd: a.run_base_usd, tokens: a.run_base_tokens } : { usd: 0, tokens: 0 };
    return {
      costUsd: a.cost - base.usd,
      tokens: a.tokens - base.tokens,
      reservedUsd: Math.max(0, a.reserved_usd),
      reservedTokens: Math.max(0, a.reserved_tokens),
    };
  }

  openReservations(scope: LedgerScope): readonly OpenReservation[] {
    const rows = this.#s.openRes.all(scope.tenantId, scope.sessionId) as {
      key: string;
      model: string;
      est_usd: number;
      est_tokens: number;
    }[];
    return rows
      .filter((r) => !this.#closing.has(resId(scope, r.key)))
      .map((r) => ({ key: r.key, model: r.model, estimateUsd: r.est_usd, estimateTokens: r.est_tokens }));
  }
}
