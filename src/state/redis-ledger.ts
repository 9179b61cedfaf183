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
import type { RedisBridge } from "./redis-bridge.js";
import { budgetSuffix, sessionBase, tenantBase } from "./redis-scripts.js";
import type { OpenReservation } from "./store.js";

/** A settle or release, closed by the commit script together with the tick's events. */
export interface LedgerClose {
  readonly key: string;
  readonly cost: number;
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
  readonly tokens: number;
  readonly calls: number;
}

interface Reservation {
  readonly model: string;
  readonly usd: number;
  readonly tokens: number;
  /** Account key suffixes of the named budgets it draws on. */
  readonly budgets: readonly string[];
}

/** The store's side: queue a close into the session's part of the batch; send the batch now. */
interface Batcher {
  enqueueClose(scope: LedgerScope, close: LedgerClose): void;
  flushPending(): void;
}

type Field =
  | "cost"
  | "input"
  | "output"
  | "cache_read"
  | "cache_write"
  | "tokens"
  | "calls"
  | "open"
  | "reserved_usd"
  | "reserved_tokens";

const resKey = (s: LedgerScope, key: string) => JSON.stringify([s.tenantId, s.sessionId, key]);
const encS = (s: LedgerScope) => encodeURIComponent(s.sessionId);

/**
 * The ledger in the Redis store: every process on the same Redis draws on one budget. `reserve` is
 * one Lua script (ceiling check and reservation atomic across processes); `settle` and `release`
 * are queued into the session's commit script of the tick, so a settlement commits together with
 * the events written with it (the model call's `model_call_finished`): after a crash the ledger and
 * the log agree. Reads send the queued batch first, so this process reads its own writes.
 */
export class RedisLedger implements Ledger {
  readonly #bridge: RedisBridge;
  readonly #prefix: string;
  readonly #batcher: Batcher;
  /** Reservations this process made and has not closed: settle needs no round trip for them. */
  readonly #mine = new Map<string, Reservation>();
  /**
   * Closes queued in the batch not yet sent, per account key, and their reservations: reads add
   * them to what Redis holds (a read never sends the batch, so a settlement is never split from the
   * events of its tick). Reads see every batch already sent, which reaches Redis before them.
   */
  #delta = new Map<string, Record<Field, number>>();
  #closing = new Set<string>();

  constructor(bridge: RedisBridge, prefix: string, batcher: Batcher) {
    this.#bridge = bridge;
    this.#prefix = prefix;
    this.#batcher = batcher;
  }

  reserve(scope: LedgerScope, entry: ReserveEntry): ReservationRefusal | undefined {
    checkScope(scope);
    const { key, tokens } = checkReserveEntry(scope, entry);
    const usd = entry.estimateUsd;
    const ceilings = entry.ceilings ?? [];
    const budgets = [
      ...new Set(ceilings.filter((c) => c.account.startsWith("budget:")).map((c) => budgetSuffix(c.account))),
    ];
    const reservation: Reservation = { model: String(entry.model), usd, tokens, budgets };
    this.#batcher.flushPending();
    const answer = this.#bridge.one([
      "reinReserve",
      tenantBase(this.#prefix, scope.tenantId),
      encS(scope),
      key,
      entry.runId ?? "",
      JSON.stringify(reservation),
      JSON.stringify(
        ceilings.map((c) => ({
          acc: c.account === "run" || c.account === "session" ? c.account : budgetSuffix(c.account),
          ...(c.maxCostUsd !== undefined ? { usd: c.maxCostUsd } : {}),
          ...(c.maxTokens !== undefined ? { tokens: c.maxTokens } : {}),
        })),
      ),
    ]);
    if (answer === "open") {
      throw new LedgerError(
        `reserve: reservation "${key}" is already open in session ${scope.sessionId} (tenant ${scope.tenantId}); settle or release it first`,
        { ...scope, key },
      );
    }
    if (Array.isArray(answer) && answer[0] === "refused") {
      const ceiling = ceilings[Number(answer[1]) - 1];
      const [costUsd, spent, reservedUsd, reservedTokens] = (answer.slice(2) as string[]).map(Number) as [
        number,
        number,
        number,
        number,
      ];
      const u: AccountUsage = { costUsd, tokens: spent, reservedUsd, reservedTokens };
      const refusal = ceiling ? ceilingRefusal(ceiling, u, usd, tokens) : undefined;
      if (refusal) return refusal;
      throw this.#bridge.storeError(`the reservation script refused "${key}" on no ceiling`);
    }
    this.#mine.set(resKey(scope, key), reservation);
    return undefined;
  }

  settle(scope: LedgerScope, key: string, actual: { usage: Usage; costUsd: number }): void {
    checkScope(scope);
    const r = this.#open(scope, key, "settle");
    checkAmount(actual?.costUsd, "settle: costUsd", scope, key);
    checkUsage(actual.usage, scope, key);
    const u = actual.usage;
    this.#close(scope, key, r, {
      key,
      cost: actual.costUsd,
      input: u.inputTokens,
      output: u.outputTokens,
      cacheRead: u.cacheReadTokens,
      cacheWrite: u.cacheWriteTokens,
      tokens: tokensOf(u),
      calls: 1,
    });
  }

  release(scope: LedgerScope, key: string): void {
    checkScope(scope);
    const r = this.#open(scope, key, "release");
    this.#close(scope, key, r, {
      key,
      cost: 0,
      input: 0,
      output: 0,
      cacheRead: 0,
      cacheWrite: 0,
      tokens: 0,
      calls: 0,
    });
  }

  /** The store sent the batch: Redis now answers for what it queued. */
  posted(): void {
    if (this.#delta.size > 0) this.#delta = new Map();
    if (this.#closing.size > 0) this.#closing = new Set();
  }

  /** The open reservation `key`, from this process's own or from Redis; undefined when not open. */
  #open(scope: LedgerScope, key: string, what: string): Reservation {
    const id = typeof key === "string" ? resKey(scope, key) : "";
    let r = id === "" || this.#closing.has(id) ? undefined : this.#mine.get(id);
    if (!r && id !== "" && !this.#closing.has(id)) {
      const res = `${sessionBase(this.#prefix, scope.tenantId, scope.sessionId)}:res`;
      const v = this.#bridge.one(["hget", res, key]);
      if (typeof v === "string") r = JSON.parse(v.slice(v.indexOf(" ") + 1)) as Reservation;
    }
    if (!r) {
      throw new LedgerError(
        `${what}: no open reservation "${String(key)}" in session ${scope.sessionId} (tenant ${scope.tenantId}); it was never reserved, or already settled or released`,
        { ...scope, key: String(key) },
      );
    }
    return r;
  }

  #close(scope: LedgerScope, key: string, r: Reservation, close: LedgerClose): void {
    this.#batcher.enqueueClose(scope, close);
    const id = resKey(scope, key);
    this.#mine.delete(id);
    this.#closing.add(id);
    const base = tenantBase(this.#prefix, scope.tenantId);
    for (const acc of [
      `${base}:a:s:${encS(scope)}`,
      `${base}:a:t`,
      ...r.budgets.map((b) => `${base}:${b}`),
    ]) {
      const d = this.#delta.get(acc) ?? {
        cost: 0,
        input: 0,
        output: 0,
        cache_read: 0,
        cache_write: 0,
        tokens: 0,
        calls: 0,
        open: 0,
        reserved_usd: 0,
        reserved_tokens: 0,
      };
      d.cost += close.cost;
      d.input += close.input;
      d.output += close.output;
      d.cache_read += close.cacheRead;
      d.cache_write += close.cacheWrite;
      d.tokens += close.tokens;
      d.calls += close.calls;
      d.open -= 1;
      d.reserved_usd -= r.usd;
      d.reserved_tokens -= r.tokens;
      this.#delta.set(acc, d);
    }
  }

  /** An account as Redis holds it plus the closes not yet sent. */
  #account(key: string): Record<string, number> {
    const flat = this.#bridge.one(["hgetall", key]) as Record<string, string> | null;
    const a: Record<string, number> = {};
    for (const [f, v] of Object.entries(flat ?? {})) a[f] = f === "run_id" ? 0 : Number(v);
    const d = this.#delta.get(key);
    if (!d) return a;
    const open = (a.open ?? 0) + d.open;
    for (const f of ["cost", "input", "output", "cache_read", "cache_write", "tokens", "calls"] as const)
      a[f] = (a[f] ?? 0) + d[f];
    a.open = open;
    a.reserved_usd = open <= 0 ? 0 : (a.reserved_usd ?? 0) + d.reserved_usd;
    a.reserved_tokens = open <= 0 ? 0 : (a.reserved_tokens ?? 0) + d.reserved_tokens;
    return a;
  }

  totals(scope: LedgerScope | { readonly tenantId: string }): LedgerTotals {
    const isSession = scope !== null && typeof scope === "object" && "sessionId" in scope;
    const base = tenantBase(this.#prefix, scope?.tenantId);
    const a = this.#account(isSession ? `${base}:a:s:${encS(scope as LedgerScope)}` : `${base}:a:t`);
    const n = (f: string) => a[f] ?? 0;
    return {
      usage: {
        inputTokens: n("input"),
        outputTokens: n("output"),
        cacheReadTokens: n("cache_read"),
        cacheWriteTokens: n("cache_write"),
      },
      costUsd: n("cost"),
      reservedUsd: Math.max(0, n("reserved_usd")),
      calls: n("calls"),
    };
  }

  usageOf(scope: LedgerScope, which: BudgetAccount): AccountUsage {
    const base = tenantBase(this.#prefix, scope.tenantId);
    const a = this.#account(
      which === "session" || which === "run"
        ? `${base}:a:s:${encS(scope)}`
        : `${base}:${budgetSuffix(which)}`,
    );
    const n = (f: string) => a[f] ?? 0;
    const runBase =
      which === "run" ? { usd: n("run_base_usd"), tokens: n("run_base_tokens") } : { usd: 0, tokens: 0 };
    return {
      costUsd: n("cost") - runBase.usd,
      tokens: n("tokens") - runBase.tokens,
      reservedUsd: Math.max(0, n("reserved_usd")),
      reservedTokens: Math.max(0, n("reserved_tokens")),
    };
  }

  openReservations(scope: LedgerScope): readonly OpenReservation[] {
    const flat = this.#bridge.one([
      "hgetall",
      `${sessionBase(this.#prefix, scope.tenantId, scope.sessionId)}:res`,
    ]) as Record<string, string> | null;
    return Object.entries(flat ?? {})
      .filter(([key]) => !this.#closing.has(resKey(scope, key)))
      .map(([key, v]) => {
        const sp = v.indexOf(" ");
        const r = JSON.parse(v.slice(sp + 1)) as Reservation;
        return {
          n: Number(v.slice(0, sp)),
          key,
          model: r.model,
          estimateUsd: r.usd,
          estimateTokens: r.tokens,
        };
      })
      .sort((a, b) => a.n - b.n)
      .map(({ key, model, estimateUsd, estimateTokens }) => ({ key, model, estimateUsd, estimateTokens }));
  }

  sessionClosed(scope: LedgerScope): void {
    const prefix = JSON.stringify([scope.tenantId, scope.sessionId]).slice(0, -1);
    for (const k of this.#mine.keys()) if (k.startsWith(prefix)) this.#mine.delete(k);
  }
}
