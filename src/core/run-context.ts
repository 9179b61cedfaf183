import type { ApprovalGate } from "../approvals/approval-gate.js";
import type { Guard, GuardContext } from "../guards/guard.js";
import type { Ledger } from "../guards/ledger.js";
import type { Model } from "../models/model.js";
import type { PriceBook } from "../models/pricing.js";
import type { Policy } from "../policy/policy.js";
import type {
  AuditTarget,
  EventDataFilter,
  EventDataMap,
  EventSink,
  EventType,
  ModelEvent,
} from "../protocol/events.js";
import type { Hooks } from "../protocol/hooks.js";
import type { Message } from "../protocol/messages.js";
import type { RiskLevel } from "../protocol/risk.js";
import { keepShapes } from "../protocol/shape-keeper.js";
import type { StopReason } from "../protocol/stop-reason.js";
import type { ResultProcessor } from "../security/result-processor.js";
import type { EventLog } from "../state/event-log.js";
import type { ToolRouter } from "../tools/tool.js";
import type { CallScopes } from "./call-scopes.js";
import type { InputEstimate } from "./input-estimate.js";

export interface Limits {
  /** Model calls per run. */
  readonly maxTurns: number;
  /** A `limit_warning` is emitted when this fraction of `maxTurns` is reached (default 2/3). */
  readonly warnAtFraction: number;
  readonly modelCallTimeoutMs: number;
  readonly toolTimeoutMs: number;
  /** Wall-clock limit of one run (one `run()`/`stream()`); the `timeout` stop reason's scope is `run`. */
  readonly runTimeoutMs: number;
  /**
   * After a tool's signal aborts (cancel, timeout), how long to wait for the tool to stop. A tool that
   * has not settled by then is recorded as `outcome_unknown`: it may still be changing things.
   */
  readonly abortGraceMs: number;
  /** Cap on what one tool result may put into the context. */
  readonly maxToolOutputBytes: number;
}

export interface ApprovalSlot {
  readonly gate: ApprovalGate;
  /** Levels that need a decision (default: HIGH). BLOCK never reaches a gate. */
  readonly requireFor: ReadonlySet<RiskLevel>;
  /** An unanswered approval is denied after this long. */
  readonly timeoutMs: number;
}

/** Everything a session needs, as interfaces. Composed by `createHarness`; core never builds an implementation. */
export interface SessionDeps {
  /** Called once when the session closes (the harness forgets it, so its id may be opened again). */
  readonly onClose?: () => void;
  readonly tenantId: string;
  readonly sessionId: string;
  readonly model: Model;
  readonly tools: ToolRouter;
  readonly policy: Policy;
  readonly guards: readonly Guard[];
  readonly approvals: ApprovalSlot | undefined;
  readonly resultProcessors: readonly ResultProcessor[];
  readonly hooks: Hooks;
  readonly ledger: Ledger;
  readonly pricing: PriceBook;
  readonly eventLog: EventLog;
  readonly sinks: readonly EventSink[];
  /** Applied to every event's data before the log, sinks and stream see it (secret redaction). */
  readonly eventFilter?: EventDataFilter;
  readonly limits: Limits;
  /**
   * The system prompt, or what builds it (once per run, at its first model call): a prompt of the
   * session's own (the spotlight nonce's) is then not kept while the session idles.
   */
  readonly system: string | (() => string) | undefined;
  readonly maxTokens: number;
  readonly workspace: string | null;
  /** Where the audit trail goes, for `session_started` (the harness builds the trail itself as a sink). */
  readonly audit: AuditTarget;
  /** The conversation so far; the session appends to this array in place and never copies it. */
  readonly history: Message[];
  readonly newId: (prefix: string) => string;
  /** Argument hashes a gate approved with scope "session": the same exact call is not asked again. */
  readonly sessionApprovals: Set<string>;
  /** The running estimate of the next call's input tokens (core/input-estimate.ts). */
  readonly inputEstimate: InputEstimate;
}

/** The state of one run, shared by the loop, the step and the pipeline stages. */
export interface RunContext {
  readonly deps: SessionDeps;
  /** The session's `{ tenantId, sessionId }` (frozen, one per session): what the ledger and the log are keyed by. */
  readonly scope: SessionScope;
  readonly runId: string;
  /** Aborts on cancel, on the run's wall-clock timeout, and on a fatal sink failure. */
  readonly signal: AbortSignal;
  readonly emit: <T extends EventType>(type: T, data: EventDataMap[T]) => void;
  /**
   * The durability barrier: resolves once every event emitted so far is durable in the event log and
   * in every sink that can say so (`sync`). `undefined` when nothing is buffered (nothing to wait for).
   * Rejects when an event cannot be made durable; the run has then been stopped (fatal).
   */
  readonly durable: () => Promise<void> | undefined;
  /**
   * Resolves once every sink that opens asynchronously (`ready`) is open; `undefined` when none does,
   * or when they all opened earlier in this run (a sink stays open until the run's seal).
   * Rejects when one cannot open; the run has then been stopped (fatal).
   */
  readonly ready: () => Promise<void> | undefined;
  turn: number;
  toolCalls: number;
  /**
   * The last turn's tool results are not yet known to be durable. The next model call awaits the
   * barrier right after its reservation, before the model sees them, so a store whose reservation is
   * a transaction commits both in one (see `syncResults`); a run that stops instead awaits it at once.
   */
  resultsUnsynced: boolean;
  /** Set by a stage that must end the run after the current step (e.g. a guard's `stop`). */
  pendingStop: StopReason | undefined;
  /** Calls whose tool was asked to stop and had not, `abortGraceMs` later (their outcome is unknown). */
  readonly unsettledToolCalls: { readonly callId: string; readonly tool: string }[];
  /** The signals of the run's tool and model calls (one listener and one timer per limit for all of them). */
  readonly scopes: CallScopes;
  /**
   * What the run's guards see of it (pipeline/guards.ts), made at its first guard call and shared by
   * every later one: a slot, not a map keyed by run, so no lookup per call and nothing left behind.
   */
  guardContext: GuardContext | undefined;
  /**
   * The system prompt of the run's model calls, built at its first (`undefined` until then, `null` for
   * none): a prompt built by a function (the spotlight's) is built once per run, not once per call.
   */
  system: string | null | undefined;
  /**
   * The model request's `onTextDelta` and `onEvent`, made at the run's first model call and given to
   * every later one (model-call.ts): a slot, so a model call makes no closure.
   */
  modelCallbacks:
    | {
        readonly onTextDelta: (delta: string) => void;
        readonly onEvent: (event: ModelEvent) => void;
      }
    | undefined;
}

/** A session's place in the stores. */
export interface SessionScope {
  readonly tenantId: string;
  readonly sessionId: string;
}

/**
 * A run's context, built here only (one object-literal site). V8 keeps a literal's shape only while
 * an object of it lives, and compiled code that checks a shape no live object has any more is thrown
 * away: with no context kept, every harness's end discarded the stages' compiled code (the guard
 * stage reads the context on every call) for the next harness to compile again. One context is kept
 * below for the process's life.
 */
export function newRunContext(
  deps: SessionDeps,
  scope: SessionScope,
  runId: string,
  signal: AbortSignal,
  emit: RunContext["emit"],
  durable: RunContext["durable"],
  ready: RunContext["ready"],
  scopes: CallScopes,
): RunContext {
  return {
    deps,
    scope,
    runId,
    signal,
    emit,
    durable,
    ready,
    turn: 0,
    toolCalls: 0,
    resultsUnsynced: false,
    pendingStop: undefined,
    unsettledToolCalls: [],
    scopes,
    guardContext: undefined,
    system: undefined,
    modelCallbacks: undefined,
  };
}

const noop = () => undefined;
keepShapes(
  newRunContext(
    {} as SessionDeps,
    Object.freeze({ tenantId: "-", sessionId: "-" }),
    "-",
    new AbortController().signal,
    noop,
    noop,
    noop,
    {} as CallScopes,
  ),
);

/** The system prompt of the next model call. */
export function systemPrompt(deps: SessionDeps): string | undefined {
  const system = deps.system;
  return typeof system === "function" ? system() : system;
}
