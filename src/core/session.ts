import type { AbortCause } from "../protocol/abort.js";
import { isNativePromise } from "../protocol/answers.js";
import { errorMessage, isErrorCode, SessionError } from "../protocol/errors.js";
import { EVENT_VERSION, type EventDataMap, type EventType, type ReinEvent } from "../protocol/events.js";
import type { Message } from "../protocol/messages.js";
import type { ResumePlan } from "../protocol/resume.js";
import type { RunResult } from "../protocol/run-result.js";
import { CallScopes } from "./call-scopes.js";
import { EventChannel } from "./event-channel.js";
import { newRunContext, type RunContext, type SessionDeps, type SessionScope } from "./run-context.js";
import { driveResume, driveRun } from "./run-loop.js";

export interface RunOptions {
  /** Aborting it cancels the run (same as `session.cancel()`). */
  readonly signal?: AbortSignal;
}

/** The run in progress: its controller, its stream, and the wait of a `close()` for its end. */
interface ActiveRun {
  readonly controller: AbortController;
  readonly channel: EventChannel<ReinEvent> | undefined;
  ended: Promise<void> | undefined;
  settle: (() => void) | undefined;
}

/** `stream()`'s return: the events as they happen, and the run's result. Breaking out of the loop cancels the run. */
export interface RunStream extends AsyncIterable<ReinEvent> {
  readonly result: Promise<RunResult>;
}

/**
 * A conversation with its state. One run at a time; each `run(task)` appends to the same history.
 * Create one with `harness.session()`.
 */
export class Session {
  readonly id: string;
  readonly tenantId: string;
  readonly #deps: SessionDeps;
  #seq: number;
  #runs = 0;
  #lastRunId: string | undefined;
  /**
   * The run in progress. `ended` settles once the run is over (made by a `close()` that waits for
   * it: a run nobody waits for makes no promise).
   */
  #active: ActiveRun | undefined;
  #closed = false;
  /** The last run ended `requires_action`: only `resume` may continue it. */
  #awaitingAction = false;
  /** A sink that failed outside a run (e.g. the audit trail's session seal): close() rejects with it. */
  #sinkFailure: Extract<AbortCause, { kind: "fatal" }> | undefined;
  /**
   * Whether the log or a sink commits in batches and so has a durability barrier (`sync`), and
   * whether a sink opens asynchronously when a run starts (`ready`). Flags, not lists: an idle
   * session keeps nothing per sink (the barrier walks `deps.sinks`, a few entries).
   */
  readonly #syncs: boolean;
  readonly #readies: boolean;
  /** `{ tenantId, sessionId }`, made once: the ledger and the log are asked with it at every step. */
  readonly #scope: SessionScope;

  constructor(deps: SessionDeps) {
    this.#deps = deps;
    this.id = deps.sessionId;
    this.tenantId = deps.tenantId;
    this.#scope = Object.freeze({ tenantId: deps.tenantId, sessionId: deps.sessionId });
    this.#seq = deps.eventLog.lastSeq(this.#scope);
    this.#syncs =
      typeof deps.eventLog.sync === "function" || deps.sinks.some((sink) => typeof sink.sync === "function");
    this.#readies = deps.sinks.some((sink) => typeof sink.ready === "function");
  }

  /** The conversation so far (live, by reference). */
  get messages(): readonly Message[] {
    return this.#deps.history;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether a run is in progress. */
  get running(): boolean {
    return this.#active !== undefined;
  }

  /** Runs `task` to a stop and resolves with the result. Never rejects for an expected stop (see `stopReason`). */
  run(task: string, options: RunOptions = {}): Promise<RunResult> {
    return this.#start(task, options, undefined);
  }

  /**
   * Continues the session's last run from its log (after a crash, or a `requires_action` stop).
   * Build the plan with `resumePlan` (or call `harness.resume(id)`, which does it all).
   */
  resume(plan: ResumePlan, options: RunOptions = {}): Promise<RunResult> {
    return this.#start(plan, options, undefined);
  }

  /** Runs `task` and yields every event as it is appended. */
  stream(task: string, options: RunOptions = {}): RunStream {
    const channel = new EventChannel<ReinEvent>(
      () => this.cancel("the stream's reader stopped reading"),
      () => {
        throw new SessionError(
          "REIN_STREAM_READER",
          `This stream of session ${this.id} already has a reader; a run's stream has one consumer. ` +
            "Read other copies of the events from harness.eventLog.",
        );
      },
    );
    const result = this.#start(task, options, channel);
    result.then(
      () => channel.end(),
      () => channel.end(),
    );
    return { result, [Symbol.asyncIterator]: () => channel[Symbol.asyncIterator]() };
  }

  /** Cancels the run in progress: the in-flight model call and tools are aborted. */
  cancel(reason = "cancelled by the caller"): void {
    this.#active?.controller.abort({ kind: "cancelled", reason } satisfies AbortCause);
  }

  /**
   * Ends the session: emits `session_ended` and closes the event sinks. Rejects (with the sink's code)
   * when a sink failed on `session_ended`, e.g. the audit trail could not write its session seal:
   * the session is closed all the same, and the failure is not silent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const active = this.#active;
    if (active) {
      this.cancel("the session was closed");
      active.ended ??= new Promise<void>((resolve) => {
        active.settle = resolve;
      });
      await active.ended;
    }
    const scope = this.#scope;
    const totals = this.#deps.ledger.totals(scope);
    // session_ended carries the last run's id (a session closed before any run gets an id of its own).
    this.#emit(this.#lastRunId ?? this.#deps.newId("run"), "session_ended", {
      runs: this.#runs,
      usage: totals.usage,
      costUsd: totals.costUsd,
    });
    // Guards are shared by every session of a harness: let them drop this session's state.
    for (const guard of this.#deps.guards) {
      try {
        if (typeof guard.sessionEnded === "function") guard.sessionEnded(scope);
      } catch {
        // The session is over; a guard failing to forget it cannot change any outcome.
      }
    }
    try {
      // The session seal is durable before close() resolves; a failure is reported below.
      if (this.#syncs) await this.#durable().catch(() => {});
      await this.#deps.eventLog.flush();
      for (const sink of this.#deps.sinks) {
        try {
          await sink.close?.();
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          this.#sinkFailure ??= {
            kind: "fatal",
            code: isErrorCode(code) ? code : "REIN_INTERNAL",
            message: `event sink "${sink.name}" failed to close: ${errorMessage(err)}`,
          };
        }
      }
    } finally {
      // What the harness keeps in memory for this session goes (the stores' durable copies stay).
      for (const store of [this.#deps.eventLog, this.#deps.ledger]) {
        try {
          store.sessionClosed?.(scope);
        } catch {
          // Forgetting is an optimisation: a store that cannot forget changes no outcome.
        }
      }
      this.#deps.onClose?.();
    }
    const failure = this.#sinkFailure;
    if (failure) {
      throw new SessionError(failure.code, `Session ${this.id} closed, but ${failure.message}.`, {
        sessionId: this.id,
      });
    }
  }

  async #start(
    task: string | ResumePlan,
    options: RunOptions,
    channel: EventChannel<ReinEvent> | undefined,
  ): Promise<RunResult> {
    if (this.#closed)
      throw new SessionError("REIN_SESSION_CLOSED", `Session ${this.id} is closed; create a new session.`);
    if (this.#active) {
      throw new SessionError(
        "REIN_SESSION_BUSY",
        `Session ${this.id} already has a run in progress; one run at a time per session.`,
      );
    }
    const resuming = typeof task === "object" && task !== null;
    if (!resuming && this.#awaitingAction) {
      throw new SessionError(
        "REIN_SESSION_REQUIRES_ACTION",
        `Session ${this.id}'s last run waits for approval decisions; decide them, then resume it (harness.resume("${this.id}")).`,
        { sessionId: this.id },
      );
    }
    if (!resuming && (typeof task !== "string" || task.trim() === "")) {
      throw new SessionError("REIN_INPUT_INVALID", "run(task): task must be a non-empty string.", {
        field: "task",
      });
    }
    const deps = this.#deps;
    const controller = new AbortController();
    const active: ActiveRun = { controller, channel, ended: undefined, settle: undefined };
    this.#active = active;
    const runId = resuming ? task.runId : deps.newId("run");
    this.#lastRunId = runId;
    if (resuming) {
      deps.history.length = 0;
      for (const m of task.history) deps.history.push(m);
    }
    const limitMs = deps.limits.runTimeoutMs;
    const timer = setTimeout(
      () => controller.abort({ kind: "timeout", scope: "run", limitMs } satisfies AbortCause),
      limitMs,
    );
    const external = options.signal;
    // Made only for a run given a signal.
    let onExternal: (() => void) | undefined;
    if (external !== undefined) {
      onExternal = () =>
        this.cancel(
          external.reason === undefined ? "aborted by the caller's signal" : String(external.reason),
        );
      if (external.aborted) onExternal();
      else external.addEventListener("abort", onExternal, { once: true });
    }

    this.#runs++;
    if (this.#seq === 0 && !resuming) {
      this.#emit(runId, "session_started", {
        model: deps.model.id,
        tools: deps.tools.names(),
        workspace: deps.workspace,
        audit: deps.audit,
      });
    }
    let opened = false;
    const ctx: RunContext = newRunContext(
      deps,
      this.#scope,
      runId,
      controller.signal,
      (type, data) => this.#emit(runId, type, data),
      () => (this.#syncs ? this.#durable() : undefined),
      // Once every sink has opened in this run it stays open until the run's seal: later model answers
      // skip the wait (a later write failure is caught by the durability barrier before any tool runs).
      () => {
        if (opened || !this.#readies) return undefined;
        return this.#ready().then(() => {
          opened = true;
        });
      },
      new CallScopes(controller.signal),
    );
    try {
      const result = resuming
        ? await driveResume(ctx, task, () => this.#seq)
        : await driveRun(ctx, task as string, () => this.#seq);
      this.#awaitingAction = result.status === "requires_action";
      // The run's last records (the audit seal) are durable before run() resolves; a failure here
      // cannot change the result any more, so close() reports it.
      if (this.#syncs) await this.#durable(true).catch(() => {});
      return result;
    } finally {
      clearTimeout(timer);
      ctx.scopes.close();
      if (onExternal !== undefined) external!.removeEventListener("abort", onExternal);
      // Made per run, not kept while the session idles.
      this.#onSyncFailed = undefined;
      this.#active = undefined;
      active.settle?.();
    }
  }

  /**
   * Waits for every batching store and sink; the first failure stops the run (fatal) and rejects.
   * `ended`: the run is over, so a failure is kept for close() to report. Not an async function: with
   * one batching target (the usual case: the audit trail) a barrier costs one derived promise, not
   * two async frames and their awaits (it runs before every tool call of every session).
   */
  #durable(ended = false): Promise<void> {
    const log = this.#deps.eventLog;
    const sinks = this.#deps.sinks;
    let only: { sync?(): Promise<void> } | undefined = typeof log.sync === "function" ? log : undefined;
    let onlyName: string | undefined;
    let count = only === undefined ? 0 : 1;
    for (let i = 0; i < sinks.length; i++) {
      const sink = sinks[i]!;
      if (typeof sink.sync !== "function") continue;
      only = sink;
      onlyName = sink.name;
      count++;
    }
    if (count === 1) return this.#synced(only!, onlyName, ended);
    return this.#durableEach(ended);
  }

  /**
   * A barrier's failure handler while a run goes on, for the usual single batching target: made
   * once per run (dropped when it ends), not a closure per barrier.
   */
  #onSyncFailed: ((err: unknown) => never) | undefined;
  #onSyncFailedName: string | undefined;

  /** `#durable` with several batching targets: each one waited for in turn, the log first. */
  async #durableEach(ended: boolean): Promise<void> {
    const log = this.#deps.eventLog;
    if (typeof log.sync === "function") await this.#synced(log, undefined, ended);
    for (const sink of this.#deps.sinks) {
      if (typeof sink.sync === "function") await this.#synced(sink, sink.name, ended);
    }
  }

  /** One `sync()` (of the log when `sinkName` is undefined, else of that sink); see `#durable`. */
  #synced(target: { sync?(): Promise<void> }, sinkName: string | undefined, ended: boolean): Promise<void> {
    let p: unknown;
    try {
      p = target.sync!();
    } catch (err) {
      return Promise.reject(this.#syncFailed(err, sinkName, ended));
    }
    // Anything but a native promise (a thenable, a value) is a failure; a rejection is one too.
    if (!isNativePromise(p))
      return Promise.reject(
        this.#syncFailed(new TypeError("sync() did not return a promise"), sinkName, ended),
      );
    if (ended) {
      return p.then(undefined, (err: unknown) => {
        throw this.#syncFailed(err, sinkName, true);
      });
    }
    let onFailed = this.#onSyncFailed;
    if (onFailed === undefined || this.#onSyncFailedName !== sinkName) {
      onFailed = (err: unknown) => {
        throw this.#syncFailed(err, sinkName, false);
      };
      this.#onSyncFailed = onFailed;
      this.#onSyncFailedName = sinkName;
    }
    return p.then(undefined, onFailed);
  }

  /** Stops the run (fatal) for a barrier that failed, or keeps the failure for close(); gives `err` back. */
  #syncFailed(err: unknown, sinkName: string | undefined, ended: boolean): unknown {
    const code = (err as { code?: unknown } | null | undefined)?.code;
    const name = sinkName === undefined ? "event log" : `event sink "${sinkName}"`;
    const cause = {
      kind: "fatal",
      code: isErrorCode(code) ? code : "REIN_INTERNAL",
      message: `${name} could not make its records durable: ${errorMessage(err)}`,
    } satisfies AbortCause;
    if (this.#active && !ended) this.#active.controller.abort(cause);
    else this.#sinkFailure ??= cause;
    return err;
  }

  /** Waits for every sink that opens asynchronously; the first failure stops the run (fatal) and rejects. */
  async #ready(): Promise<void> {
    for (const sink of this.#deps.sinks) {
      if (typeof sink.ready !== "function") continue;
      try {
        // Anything but a native promise (a throw, a thenable) is a failure.
        const p = sink.ready();
        if (!(p instanceof Promise)) throw new TypeError("ready() did not return a promise");
        await p;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        this.#active?.controller.abort({
          kind: "fatal",
          code: isErrorCode(code) ? code : "REIN_INTERNAL",
          message: `event sink "${sink.name}" could not open: ${errorMessage(err)}`,
        } satisfies AbortCause);
        throw err;
      }
    }
  }

  /** Appends one event: assigns `seq`, writes the log, feeds the sinks, then the live stream. */
  #emit<T extends EventType>(runId: string, type: T, data: EventDataMap[T]): void {
    const deps = this.#deps;
    const event = {
      v: EVENT_VERSION,
      seq: ++this.#seq,
      sessionId: deps.sessionId,
      runId,
      tenantId: deps.tenantId,
      ts: Date.now(),
      type,
      data: deps.eventFilter ? deps.eventFilter.filter(type, data) : data,
    } as ReinEvent;
    deps.eventLog.append(event);
    const sinks = deps.sinks;
    for (let i = 0; i < sinks.length; i++) {
      const sink = sinks[i]!;
      try {
        sink.handle(event);
      } catch (err) {
        // A failing sink (e.g. the audit trail cannot write) must not be silently skipped: stop the run.
        const code = (err as { code?: unknown }).code;
        const cause = {
          kind: "fatal",
          code: isErrorCode(code) ? code : "REIN_INTERNAL",
          message: `event sink "${sink.name}" failed: ${errorMessage(err)}`,
        } satisfies AbortCause;
        // Outside a run (session_started is inside one; session_ended is not) close() reports it.
        if (this.#active) this.#active.controller.abort(cause);
        else this.#sinkFailure ??= cause;
      }
    }
    this.#active?.channel?.push(event);
  }
}
