import { ConfigError } from "../protocol/errors.js";
import type { Usage } from "../protocol/messages.js";
import { keepShapes } from "../protocol/shape-keeper.js";
import type { Guard, GuardContext, GuardStopVerdict, GuardToolCall } from "./guard.js";
import type {
  AccountUsage,
  BudgetAccount,
  Ceiling,
  Ledger,
  LedgerScope,
  LedgerTotals,
  ReserveEntry,
} from "./ledger.js";
import { MemoryLedger } from "./memory-ledger.js";
import { sessionKey } from "./session-key.js";

export interface CeilingOptions {
  readonly maxCostUsd?: number;
  /** Input, output, cache read and cache write tokens together. */
  readonly maxTokens?: number;
}

export interface BudgetOptions {
  /** Ceilings of one `run()`. */
  readonly run?: CeilingOptions;
  /** Ceilings of a whole session (all its runs). */
  readonly session?: CeilingOptions;
  /**
   * A shared named budget every session of this harness draws from (per tenant). Harnesses on the
   * same ledger with the same name draw from the same account.
   */
  readonly shared?: CeilingOptions & { readonly name: string };
  /** Fractions of a ceiling at which a `budget_warning` event is emitted once. Default `[0.5]`. */
  readonly warnAt?: readonly number[];
}

const ALLOW: GuardStopVerdict = Object.freeze({ action: "allow" });

/** A frozen ceiling with only the limits given (built here only, so each has a kept shape). */
function ceilingOf(account: BudgetAccount, maxCostUsd?: number, maxTokens?: number): Ceiling {
  if (maxTokens === undefined) return Object.freeze({ account, maxCostUsd });
  if (maxCostUsd === undefined) return Object.freeze({ account, maxTokens });
  return Object.freeze({ account, maxCostUsd, maxTokens });
}

/**
 * One ceiling of each shape (and, at the end of this file, one budget guard and its ledger), kept
 * for the process's life: V8 holds object shapes weakly, and the
 * ledger's check of every reservation (and the warning check) is compiled against these shapes;
 * with no live ceiling of a shape (between one harness and the next), that code was thrown away and
 * compiled again for each harness.
 */
// Fractional limits: a limit's field then holds any number (a whole one too) without V8 widening its
// representation, which would give the ceilings of that harness a shape of their own.
keepShapes(ceilingOf("run", 1.5), ceilingOf("run", undefined, 1.5), ceilingOf("run", 1.5, 1.5));

/**
 * Budgets enforced by reservation: every model call (and every tool call that declares a cost)
 * reserves its worst case in the ledger against these ceilings before it is made, in one atomic step;
 * a reservation that would cross one is refused and the run stops with `cost_ceiling` before the
 * call. This guard holds the ceilings (`ledgerFor` gives the ledger that applies them) and emits a
 * `budget_warning` when settled spend passes each `warnAt` fraction.
 *
 * @example
 * createHarness({ model, guards: { budget: { run: { maxCostUsd: 0.5 }, shared: { name: "team", maxCostUsd: 20 } } } });
 */
export class BudgetGuard implements Guard {
  readonly name = "budget";
  readonly ceilings: readonly Ceiling[];
  readonly #ledger: Ledger & Required<Pick<Ledger, "usageOf">>;
  readonly #warnAt: readonly number[];
  /** Warnings already given: per session (run and session accounts), and per shared budget. */
  readonly #warned = new Map<string, { runId: string; given: Set<string> }>();
  readonly #sharedWarned = new Set<string>();
  /**
   * The ledger, when it answers the settled share of a ceiling without making a snapshot
   * (`settledShare`, as MemoryLedger does): called as a method, so the call can be inlined.
   */
  readonly #shares: { settledShare(scope: LedgerScope, ceiling: Ceiling): number } | undefined;

  constructor(ledger: Ledger, options: BudgetOptions) {
    if (typeof ledger.usageOf !== "function")
      throw new ConfigError(
        "budgets need a ledger that enforces ceilings (one with usageOf, such as MemoryLedger); the configured ledger has none.",
        { field: "ledger" },
      );
    this.#ledger = ledger as Ledger & Required<Pick<Ledger, "usageOf">>;
    this.#shares =
      typeof (ledger as { settledShare?: unknown }).settledShare === "function"
        ? (ledger as unknown as { settledShare(scope: LedgerScope, ceiling: Ceiling): number })
        : undefined;
    const ceilings: Ceiling[] = [];
    const add = (account: BudgetAccount, o: CeilingOptions | undefined, field: string) => {
      if (!o) return;
      for (const k of ["maxCostUsd", "maxTokens"] as const) {
        const v = o[k];
        if (v !== undefined && !(Number.isFinite(v) && v > 0))
          throw new ConfigError(`${field}.${k} must be a positive number, got ${v}.`, {
            field: `${field}.${k}`,
          });
      }
      if (o.maxCostUsd === undefined && o.maxTokens === undefined) return;
      ceilings.push(ceilingOf(account, o.maxCostUsd, o.maxTokens));
    };
    add("run", options.run, "budget.run");
    add("session", options.session, "budget.session");
    if (options.shared) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(options.shared.name ?? ""))
        throw new ConfigError("budget.shared.name must be 1-128 letters, digits, '.', '_', ':' or '-'.", {
          field: "budget.shared.name",
        });
      add(`budget:${options.shared.name}`, options.shared, "budget.shared");
    }
    this.ceilings = Object.freeze(ceilings);
    const warnAt = options.warnAt ?? [0.5];
    for (const f of warnAt)
      if (!(f > 0 && f < 1))
        throw new ConfigError(`budget.warnAt fractions must be between 0 and 1, got ${f}.`, {
          field: "budget.warnAt",
        });
    this.#warnAt = Object.freeze([...warnAt].sort((a, b) => a - b));
  }

  /** Sessions with warning state (for tests: it falls back to zero as sessions end). */
  get trackedSessions(): number {
    return this.#warned.size;
  }

  /** The ledger sessions use: the same books, with these ceilings checked on every reservation. */
  ledgerFor(base: Ledger = this.#ledger): Ledger {
    return new CeilingLedger(base, this.#ledger, this.ceilings);
  }

  beforeModelCall(context: GuardContext): GuardStopVerdict {
    this.#warn(context);
    return ALLOW;
  }

  /** Only a tool that declares a cost moves the books between model calls. */
  afterToolCall(call: GuardToolCall, _outcome: unknown, context: GuardContext): undefined {
    if (call.tool.costUsd !== undefined) this.#warn(context);
    return undefined;
  }

  /** A `budget_warning` for each warning fraction of each ceiling that settled spend has passed, once. */
  #warn(context: GuardContext): void {
    const scope: LedgerScope = context; // it has the tenant and session ids: no object per model call
    const ceilings = this.ceilings;
    const warnAt = this.#warnAt;
    if (warnAt.length === 0) return;
    const shares = this.#shares;
    for (let i = 0; i < ceilings.length; i++) {
      const c = ceilings[i]!;
      // Below the first warning (every model call but a few): no usage snapshot is made.
      if (shares !== undefined && shares.settledShare(scope, c) < warnAt[0]!) continue;
      const u = this.#ledger.usageOf(scope, c.account);
      const used = Math.max(
        c.maxCostUsd ? u.costUsd / c.maxCostUsd : 0,
        c.maxTokens ? u.tokens / c.maxTokens : 0,
      );
      for (let j = 0; j < warnAt.length; j++) {
        const fraction = warnAt[j]!;
        if (used < fraction) break;
        if (!this.#firstTime(context, c.account, fraction)) continue;
        context.notify("budget_warning", {
          budget: c.account,
          fraction,
          spentUsd: u.costUsd,
          limitUsd: c.maxCostUsd ?? null,
          spentTokens: u.tokens,
          limitTokens: c.maxTokens ?? null,
        });
      }
    }
  }

  #firstTime(context: GuardContext, account: BudgetAccount, fraction: number): boolean {
    if (account.startsWith("budget:")) {
      const key = `${context.tenantId}\u0000${account}\u0000${fraction}`;
      if (this.#sharedWarned.has(key)) return false;
      this.#sharedWarned.add(key);
      return true;
    }
    const key = sessionKey(context);
    let w = this.#warned.get(key);
    if (!w) {
      w = { runId: context.runId, given: new Set() };
      this.#warned.set(key, w);
    } else if (w.runId !== context.runId) {
      // A new run: its run account starts again from zero.
      w.runId = context.runId;
      for (const g of w.given) if (g.startsWith("run\u0000")) w.given.delete(g);
    }
    const id = `${account}\u0000${fraction}`;
    if (w.given.has(id)) return false;
    w.given.add(id);
    return true;
  }

  sessionEnded(scope: { readonly tenantId: string; readonly sessionId: string }): void {
    this.#warned.delete(sessionKey(scope));
  }
}

/**
 * A ledger that adds a budget's ceilings to every reservation. A class, not an object of closures
 * made per harness: the loop's calls into the ledger then reach the same methods whatever the
 * harness, so their compiled code is shared (closures per harness made those call sites polymorphic).
 */
class CeilingLedger implements Ledger {
  readonly #base: Ledger;
  readonly #books: Ledger & Required<Pick<Ledger, "usageOf">>;
  readonly #ceilings: readonly Ceiling[];
  /** The base ledger when it is exactly a MemoryLedger (see `reserve`). */
  readonly #memory: MemoryLedger | undefined;

  constructor(base: Ledger, books: Ledger & Required<Pick<Ledger, "usageOf">>, ceilings: readonly Ceiling[]) {
    this.#base = base;
    // Exactly a MemoryLedger (not a subclass that may change what reserve does).
    this.#memory = base.constructor === MemoryLedger ? (base as MemoryLedger) : undefined;
    this.#books = books;
    this.#ceilings = ceilings;
  }

  reserve(scope: LedgerScope, entry: ReserveEntry): ReturnType<Ledger["reserve"]> {
    const own = entry?.ceilings;
    // The in-process ledger takes the ceilings beside the entry: no copy of the entry per reservation.
    if (this.#memory !== undefined && (own === undefined || own.length === 0))
      return this.#memory.reserveAgainst(scope, entry, this.#ceilings);
    // One literal of one shape (a spread of the entry is the slow, generic copy, every call).
    return this.#base.reserve(scope, {
      key: entry.key,
      model: entry.model,
      estimateUsd: entry.estimateUsd,
      estimateTokens: entry.estimateTokens,
      runId: entry.runId,
      ceilings: own && own.length > 0 ? [...own, ...this.#ceilings] : this.#ceilings,
    });
  }

  settle(scope: LedgerScope, key: string, actual: { usage: Usage; costUsd: number }): void {
    this.#base.settle(scope, key, actual);
  }

  release(scope: LedgerScope, key: string): void {
    this.#base.release(scope, key);
  }

  totals(scope: LedgerScope | { readonly tenantId: string }): LedgerTotals {
    return this.#base.totals(scope);
  }

  /** The base ledger's, or its `totals(scope).costUsd` when it has none. */
  sessionCostUsd(scope: LedgerScope): number {
    const base = this.#base;
    return typeof base.sessionCostUsd === "function"
      ? base.sessionCostUsd(scope)
      : base.totals(scope).costUsd;
  }

  usageOf(scope: LedgerScope, account: BudgetAccount): AccountUsage {
    return this.#books.usageOf(scope, account);
  }

  /** Passed on to the base ledger when it has the hook (a no-op otherwise). */
  sessionClosed(scope: LedgerScope): void {
    if (typeof this.#base.sessionClosed === "function") this.#base.sessionClosed(scope);
  }
}

/**
 * One budget guard and its ledger (over a MemoryLedger) kept for the process's life. V8 holds the shapes an instance takes as its fields are
 * set (private fields included) weakly: once every instance of a harness is collected, they go, and
 * all compiled code that read one is thrown away; the next harness's instances get new shapes, and
 * the guard's code runs unoptimized again for hundreds of calls. One live instance keeps the shapes.
 */
const keptBudget = new BudgetGuard(new MemoryLedger(), { run: { maxCostUsd: 1.5 } });
keepShapes(keptBudget, keptBudget.ledgerFor());
