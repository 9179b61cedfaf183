/**
 * Each contract suite can fail: run as plain checks against deliberately broken implementations,
 * the checks that guard the broken behaviour fail, and the rest still pass (the checks are precise).
 */
import { describe, expect, it } from "vitest";
import {
  type ApprovalDecision,
  type ApprovalGate,
  type EventLog,
  type Ledger,
  type LedgerScope,
  type LedgerTotals,
  type LogScope,
  MemoryEventLog,
  MemoryLedger,
  type Model,
  type ModelRequest,
  type ReinEvent,
  type Usage,
} from "../../src/index.js";
import {
  approvalGateChecks,
  type ContractCheck,
  eventLogChecks,
  type GateBehaviour,
  ledgerChecks,
  type ModelContractReply,
  modelChecks,
  runContractChecks,
  scriptedModel,
} from "../../src/testing.js";
import { contractScript } from "./contract-script.js";

/**
 * The names of the checks that fail. A broken gate or model that ignores an abort hangs its check;
 * the deadline turns that into a failure (it measures nothing: a correct implementation settles at once).
 */
async function failing(checks: ContractCheck[]): Promise<string[]> {
  const results = await runContractChecks(checks, { timeoutMs: 500 });
  return results.filter((r) => !r.ok).map((r) => r.name);
}

async function allPass(checks: ContractCheck[]): Promise<void> {
  expect(await failing(checks)).toEqual([]);
}

// ---- EventLog --------------------------------------------------------------------------------

/** The log as a store keyed by `tenant + "\0" + session` would be, without any checks. */
class JoinedKeyLog implements EventLog {
  readonly streams = new Map<string, ReinEvent[]>();
  protected key(scope: LogScope): string {
    return `${scope.tenantId}\u0000${scope.sessionId}`;
  }
  protected stream(scope: LogScope): ReinEvent[] {
    let s = this.streams.get(this.key(scope));
    if (!s) {
      s = [];
      this.streams.set(this.key(scope), s);
    }
    return s;
  }
  readonly listeners: { scope: LogScope; listener: (e: ReinEvent) => void }[] = [];
  append(event: ReinEvent): void {
    const s = this.stream(event);
    if (s.length > 0 && event.seq <= s.at(-1)!.seq) throw new Error("seq");
    s.push(event);
    for (const l of this.listeners) if (this.key(l.scope) === this.key(event)) l.listener(event);
  }
  read(scope: LogScope, afterSeq: number, limit = Number.POSITIVE_INFINITY): readonly ReinEvent[] {
    if (!Number.isInteger(afterSeq) || afterSeq < 0) throw new Error("afterSeq");
    if (limit !== Number.POSITIVE_INFINITY && (!Number.isInteger(limit) || limit < 0))
      throw new Error("limit");
    return this.stream(scope)
      .filter((e) => e.seq > afterSeq)
      .slice(0, limit);
  }
  lastSeq(scope: LogScope): number {
    return this.stream(scope).at(-1)?.seq ?? 0;
  }
  subscribe(scope: LogScope, listener: (e: ReinEvent) => void): () => void {
    const entry = { scope, listener };
    this.listeners.push(entry);
    return () => this.listeners.splice(this.listeners.indexOf(entry), 1);
  }
  async flush(): Promise<void> {}
}

/** Keys by session id alone: two tenants with the same session id share one stream. */
class TenantBlindLog extends JoinedKeyLog {
  protected override key(scope: LogScope): string {
    return scope.sessionId;
  }
}

/** Reads `seq >= afterSeq` (an off-by-one), otherwise correct. */
class InclusiveReadLog extends MemoryEventLog {
  override read(scope: LogScope, afterSeq: number, limit?: number): readonly ReinEvent[] {
    return super.read(scope, Math.max(0, afterSeq - 1), limit);
  }
}

/** Stores whatever seq it is given. */
class LaxSeqLog extends JoinedKeyLog {
  override append(event: ReinEvent): void {
    this.stream(event).push(event);
  }
}

describe("eventLogContract can fail", () => {
  const run = (create: () => EventLog) => failing(eventLogChecks({ name: "broken", create }));

  it("a log keyed by session alone fails tenant isolation", async () => {
    const failed = await run(() => new TenantBlindLog());
    expect(failed).toEqual(
      expect.arrayContaining([
        "tenant isolation: tenant A never sees tenant B's events for the same session id",
        "tenant isolation holds for ids built to collide when joined with a separator",
        "a subscriber sees exactly the later appends of its scope, in order, until it unsubscribes",
      ]),
    );
    expect(failed).not.toContain("read after seq N returns exactly the later events, in order, for every N");
  });

  it("a log keyed by tenant + separator + session fails only on ids that collide", async () => {
    expect(await run(() => new JoinedKeyLog())).toEqual([
      "tenant isolation holds for ids built to collide when joined with a separator",
      "subscribers are independent; one that subscribes during delivery sees only later events",
      "refuses a seq that is not a positive integer, and stores nothing",
      "refuses an event without a tenant or session id",
    ]);
  });

  it("an off-by-one read fails the read-after checks", async () => {
    const failed = await run(() => new InclusiveReadLog());
    expect(failed).toContain("read after seq N returns exactly the later events, in order, for every N");
    expect(failed).toContain("a reader that starts after seq N sees exactly what a live subscriber saw");
    expect(failed).not.toContain(
      "tenant isolation: tenant A never sees tenant B's events for the same session id",
    );
  });

  it("a log that stores any seq fails the bad-input checks", async () => {
    const failed = await run(() => new LaxSeqLog());
    expect(failed).toContain("refuses a seq that does not move forward, and stores nothing");
    expect(failed).toContain("refuses a seq that is not a positive integer, and stores nothing");
  });

  it("MemoryEventLog passes every check when run directly", async () => {
    await allPass(eventLogChecks({ name: "memory", create: () => new MemoryEventLog() }));
  });
});

// ---- Ledger ----------------------------------------------------------------------------------

/** The ledger before the contract: joined keys, a settle of anything, no validation. */
class TrustingLedger implements Ledger {
  readonly accounts = new Map<
    string,
    { usage: Usage; costUsd: number; reservedUsd: number; calls: number }
  >();
  readonly open = new Map<string, number>();
  protected keys(scope: LedgerScope): string[] {
    return [`${scope.tenantId}\u0000${scope.sessionId}`, scope.tenantId];
  }
  #account(key: string) {
    let a = this.accounts.get(key);
    if (!a) {
      a = {
        usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
        costUsd: 0,
        reservedUsd: 0,
        calls: 0,
      };
      this.accounts.set(key, a);
    }
    return a;
  }
  reserve(scope: LedgerScope, entry: { key: string; model: string; estimateUsd: number }): void {
    const k = `${scope.sessionId}\u0000${entry.key}`;
    for (const key of this.keys(scope))
      this.#account(key).reservedUsd += entry.estimateUsd - (this.open.get(k) ?? 0);
    this.open.set(k, entry.estimateUsd);
  }
  settle(scope: LedgerScope, key: string, actual: { usage: Usage; costUsd: number }): void {
    const k = `${scope.sessionId}\u0000${key}`;
    for (const id of this.keys(scope)) {
      const a = this.#account(id);
      a.reservedUsd -= this.open.get(k) ?? 0;
      a.costUsd += actual.costUsd;
      a.calls++;
      a.usage.inputTokens += actual.usage.inputTokens;
      a.usage.outputTokens += actual.usage.outputTokens;
      a.usage.cacheReadTokens += actual.usage.cacheReadTokens;
      a.usage.cacheWriteTokens += actual.usage.cacheWriteTokens;
    }
    this.open.delete(k);
  }
  release(scope: LedgerScope, key: string): void {
    const k = `${scope.sessionId}\u0000${key}`;
    for (const id of this.keys(scope)) this.#account(id).reservedUsd -= this.open.get(k) ?? 0;
    this.open.delete(k);
  }
  totals(scope: LedgerScope | { tenantId: string }): LedgerTotals {
    const a = this.accounts.get("sessionId" in scope ? this.keys(scope)[0]! : scope.tenantId);
    return a
      ? { ...a, usage: { ...a.usage } }
      : {
          usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
          costUsd: 0,
          reservedUsd: 0,
          calls: 0,
        };
  }
}

/** Counts a reservation only when it settles: in-flight money is invisible to a budget check. */
class LateReservationLedger extends MemoryLedger {
  override totals(scope: LedgerScope | { readonly tenantId: string }): LedgerTotals {
    return { ...super.totals(scope), reservedUsd: 0 };
  }
}

describe("ledgerContract can fail", () => {
  const run = (create: () => Ledger) => failing(ledgerChecks({ name: "broken", create }));

  it("a ledger that settles unknown reservations and takes any amount fails those checks", async () => {
    const failed = await run(() => new TrustingLedger());
    expect(failed).toEqual(
      expect.arrayContaining([
        "settling a reservation that is not open is an error and changes nothing",
        "releasing a reservation that is not open is an error and changes nothing",
        "a second reservation under an open key is an error and keeps the first",
        "refuses negative or non-finite amounts and non-integer token counts, changing nothing",
        "tenant isolation: another tenant's session of the same id has its own books and keys",
        "keys and ids built to collide when joined with a separator stay apart",
      ]),
    );
    expect(failed).not.toContain(
      "settle replaces the reservation with the actual cost and usage, and counts one call",
    );
  });

  it("a ledger that hides in-flight reservations fails the reservation and budget checks", async () => {
    const failed = await run(() => new LateReservationLedger());
    expect(failed).toContain(
      "reserve adds the estimate to reservedUsd of the session and its tenant, and nothing else",
    );
    expect(failed).toContain(
      "a budget check over reservedUsd + costUsd never lets concurrent calls overspend",
    );
    expect(failed).toContain(
      "concurrent calls: reservedUsd is the sum of what is in flight, and nothing is lost",
    );
    expect(failed).not.toContain("settling a reservation that is not open is an error and changes nothing");
  });

  it("MemoryLedger passes every check when run directly", async () => {
    await allPass(ledgerChecks({ name: "memory", create: () => new MemoryLedger() }));
  });
});

// ---- Model -----------------------------------------------------------------------------------

/** The scripted model on the contract's replies. */
function script(replies: readonly ModelContractReply[], hang: "delay" | "answer" = "delay") {
  return scriptedModel(contractScript(replies, hang));
}

/** A model wrapping the scripted one, with one thing changed. */
function wrap(
  inner: Model,
  generate: (
    req: ModelRequest,
    next: (r: ModelRequest) => ReturnType<Model["generate"]>,
  ) => ReturnType<Model["generate"]>,
): Model {
  return { id: inner.id, generate: (req) => generate(req, (r) => inner.generate(r)) };
}

describe("modelContract can fail", () => {
  const run = (create: (replies: readonly ModelContractReply[]) => Model) =>
    failing(modelChecks({ name: "broken", create }));

  it("a model that ignores its abort signal fails the abort checks", async () => {
    const failed = await run((replies) =>
      wrap(script(replies, "answer"), (req, next) => next({ ...req, signal: new AbortController().signal })),
    );
    expect(failed).toEqual([
      "rejects a request whose signal is already aborted, streaming nothing, without using up a reply",
      "an abort during the call ends the wait: generate rejects",
    ]);
  });

  it("a model whose deltas drop a chunk fails the streaming check", async () => {
    const failed = await run((replies) =>
      wrap(script(replies), (req, next) => {
        let first = true;
        const onTextDelta = req.onTextDelta;
        return next({
          ...req,
          onTextDelta:
            onTextDelta &&
            ((d) => {
              if (first) first = false;
              else onTextDelta(d);
            }),
        });
      }),
    );
    expect(failed).toEqual([
      "streams text deltas that concatenate to the final text, all before it resolves",
    ]);
  });

  it("a model reporting fractional or negative usage fails well-formedness", async () => {
    const failed = await run((replies) =>
      wrap(script(replies), async (req, next) => {
        const r = await next(req);
        return { ...r, usage: { ...r.usage, outputTokens: r.usage.outputTokens + 0.5 } };
      }),
    );
    expect(failed).toContain(
      "answers text: a well-formed response with the text, stop reason and usage served",
    );
    expect(failed).toContain("usage counts are non-negative integers, cache counts included");
  });

  it("a model that writes into the history fails the request check", async () => {
    const failed = await run((replies) =>
      wrap(script(replies), async (req, next) => {
        const r = await next(req);
        if (req.messages.length > 1) (req.messages as unknown[]).push({ role: "user", content: [] });
        return r;
      }),
    );
    expect(failed).toContain("does not change the request: history, tools and messages stay as they were");
  });

  it("a model with duplicate tool_use ids fails well-formedness", async () => {
    const failed = await run((replies) =>
      wrap(script(replies), async (req, next) => {
        const r = await next(req);
        return { ...r, content: r.content.map((b) => (b.type === "tool_use" ? { ...b, id: "same" } : b)) };
      }),
    );
    expect(failed).toContain(
      "answers tool calls: names and inputs in order, unique ids, stop reason tool_use",
    );
  });
});

// ---- ApprovalGate ----------------------------------------------------------------------------

/** callbackGate as it was: any answer with a truthy `approve` approved, and the signal was ignored. */
function truthyGate(decide: () => unknown): ApprovalGate {
  return {
    name: "truthy",
    async decide(): Promise<ApprovalDecision> {
      const answer = (await decide()) as { approve?: unknown; reason?: string } | undefined;
      return answer === (true as unknown) || answer?.approve
        ? { outcome: "approved", by: "truthy", scope: "once" }
        : { outcome: "denied", by: "truthy", reason: answer?.reason as string };
    },
  };
}

/** Never looks at the signal before answering, and treats an abort of a wait as consent. */
function abortApprovesGate(behaviour: GateBehaviour): ApprovalGate {
  const by = "abort-approves";
  return {
    name: by,
    decide: (_req, signal) =>
      new Promise((resolve) => {
        const approve = () => resolve({ outcome: "approved", by, scope: "once" });
        if (behaviour === "approve") approve();
        else if (behaviour === "deny") resolve({ outcome: "denied", by, reason: "no" });
        else signal.addEventListener("abort", approve);
      }),
  };
}

describe("approvalGateContract can fail", () => {
  it("the old truthy callback gate fails the relayed-answer check", async () => {
    const failed = await failing(
      approvalGateChecks({
        name: "truthy",
        create: (b) =>
          truthyGate(() =>
            b === "approve" ? true : b === "deny" ? { approve: false, reason: "no" } : new Promise(() => {}),
          ),
        relaying: (answer) => truthyGate(() => answer),
      }),
    );
    // It ignored the signal too: the waits it should end hang until the deadline.
    expect(failed).toEqual([
      "an abort ends the wait: decide settles, and never with an approval",
      "an already-aborted signal gets no approval, even from an approving decider",
      "any other relayed answer denies, with a reason that says what was received",
      "a relayed answer that never settles is ended by the signal, without approval",
    ]);
  });

  it("a gate that takes an abort as consent fails the abort checks", async () => {
    const failed = await failing(
      approvalGateChecks({ name: "abort-approves", create: (b) => abortApprovesGate(b) }),
    );
    expect(failed).toEqual([
      "an abort ends the wait: decide settles, and never with an approval",
      "an already-aborted signal gets no approval, even from an approving decider",
    ]);
  });

  it("a gate answering a malformed decision fails the shape checks", async () => {
    const malformed: ApprovalGate = {
      name: "malformed",
      decide: async () => ({ outcome: "approved", by: "" }) as unknown as ApprovalDecision,
    };
    const failed = await failing(approvalGateChecks({ name: "malformed", create: () => malformed }));
    expect(failed).toContain("an approval is the well-formed approved shape");
    expect(failed).toContain("a refusal is the well-formed denied shape, with a reason");
  });
});
