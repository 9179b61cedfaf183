import type { EventDataMap, ReinEvent } from "../protocol/events.js";
import type { RiskAssessment } from "../protocol/risk.js";
import type { StopReason } from "../protocol/stop-reason.js";
import type { Tool } from "../tools/tool.js";

/** Events a guard may add to the session's log (and nothing else: it cannot forge a tool call's record). */
export type GuardEventType = "budget_warning" | "stall_warning" | "circuit_changed";

export interface GuardContext {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly runId: string;
  readonly turn: number;
  /** Appends a guard event to the session's event log (seq, envelope and sinks as any event). */
  readonly notify: <T extends GuardEventType>(type: T, data: EventDataMap[T]) => void;
}

/** What a guard says. `stop` ends the run with a guard stop reason (budget, stall, circuit). */
export type GuardVerdict =
  | { readonly action: "allow" }
  | {
      readonly action: "deny";
      readonly reason: string;
      /** Plain data for the model's structured error (`error.details`), e.g. a circuit's state. */
      readonly details?: Readonly<Record<string, unknown>>;
    }
  | { readonly action: "raise"; readonly level: "MEDIUM" | "HIGH"; readonly reason: string }
  | {
      readonly action: "stop";
      readonly stop: Extract<StopReason, { type: "cost_ceiling" | "stalled" | "circuit_open" }>;
    };

/** What a guard may answer where there is no call to deny: go on, or stop the run. */
export type GuardStopVerdict = Extract<GuardVerdict, { action: "allow" | "stop" }>;

/** After an executed call: go on, stop, or go on with a note appended to the result the model reads. */
export type GuardAfterVerdict = GuardStopVerdict | { readonly action: "warn"; readonly note: string };

export interface GuardToolCall {
  readonly tool: Tool;
  readonly callId: string;
  readonly input: unknown;
  /** The level as classified (and raised by earlier guards); present before the call. */
  readonly risk?: RiskAssessment;
}

/** What an executed call gave back, as the model reads it. */
export interface GuardCallOutcome {
  readonly ok: boolean;
  readonly errorType: string | null;
  /** Exactly the text the model reads (after post-processing). */
  readonly content: string;
  /**
   * What the result processors flagged in this result (the `content_flagged` events of the call):
   * a likely prompt injection, or secrets redacted from it. Empty when nothing was flagged.
   */
  readonly flags: readonly GuardResultFlag[];
}

/** One `content_flagged` finding, as guards see it. */
export interface GuardResultFlag {
  readonly kind: "prompt_injection" | "secret";
  /** The processor or detector that flagged it (`injection:heuristic`, `injection:model`, `redaction`). */
  readonly by: string;
  readonly severity: "low" | "medium" | "high";
  readonly score: number;
}

/**
 * Runtime guards: budgets, stall detection, circuit breakers, taint. Each hook is optional and
 * synchronous or a native Promise; the loop calls them at fixed points of every step. Fail closed:
 * a hook that throws, or answers anything but a verdict valid at its point, denies the call
 * (`beforeToolCall`) or stops the run with `REIN_GUARD_FAILED` (`beforeModelCall`, `afterToolCall`).
 *
 * One guard object serves every session of a harness: keep per-session state keyed by tenant and
 * session, and drop it in `sessionEnded`.
 */
export interface Guard {
  readonly name: string;
  /** Before every model call (the run's first included): `stop` ends the run before the call is made. */
  beforeModelCall?(context: GuardContext): GuardStopVerdict | Promise<GuardStopVerdict>;
  beforeToolCall?(call: GuardToolCall, context: GuardContext): GuardVerdict | Promise<GuardVerdict>;
  /** After a call executed: `stop` ends the run once this step's results are appended; `warn` adds a note. */
  afterToolCall?(
    call: GuardToolCall,
    outcome: GuardCallOutcome,
    context: GuardContext,
  ): GuardAfterVerdict | undefined | Promise<GuardAfterVerdict | undefined>;
  /**
   * A call of a registered tool was denied before it ran (by the policy, a guard, a hook or an approval
   * decision): `outcome` is the error the model reads (`ok` false). Same verdicts as `afterToolCall`.
   * The stall detector uses it to see a model retrying a denied call forever; a guard that counts
   * what tools did (a circuit breaker) leaves it out.
   */
  afterDeniedCall?(
    call: GuardToolCall,
    outcome: GuardCallOutcome,
    context: GuardContext,
  ): GuardAfterVerdict | undefined | Promise<GuardAfterVerdict | undefined>;
  /**
   * A run is resumed (after a crash, or in another process once its approvals were decided):
   * `events` are the run's events so far, from its `run_started`, in order. A guard that keeps
   * per-run state in memory rebuilds it for the session from them, so the resume does not reset it
   * (the taint guard: a run tainted before it stopped stays tainted). Synchronous; a throw, or any
   * answer but `undefined`, stops the resumed run with `REIN_GUARD_FAILED` before anything runs.
   */
  resumed?(events: readonly ReinEvent[], context: GuardContext): void;
  /** The session closed: release its state. Errors are ignored (the session is already over). */
  sessionEnded?(scope: { readonly tenantId: string; readonly sessionId: string }): void;
}
