import type { ApprovalDecision } from "./approval.js";
import type { AssistantMessage, ModelStopReason, Usage } from "./messages.js";
import type { RiskAssessment } from "./risk.js";
import type { RunStatus, StopReason } from "./stop-reason.js";

/** Version of the event envelope. Readers must refuse a `v` they do not know. */
export const EVENT_VERSION = 1;

/** One stage of the tool-call pipeline and what it decided for a call. */
export interface StageRecord {
  readonly stage: "validate" | "classify" | "guards" | "hooks" | "approve" | "execute" | "post_process";
  readonly outcome: "pass" | "deny" | "raise" | "skipped";
  /** Which module decided (`policy:tool-profile`, `guard:budget`, `slot:unfilled`, …). */
  readonly by: string;
  readonly note?: string;
}

/** The payload of every event type. The envelope adds `v`, `seq`, ids, `ts` and `type`. */
/** Where a session's audit trail goes, as `session_started` says. */
export type AuditTarget =
  | { readonly kind: "memory" }
  | { readonly kind: "file"; readonly file: string }
  | { readonly kind: "none" };

export interface EventDataMap {
  session_started: {
    readonly model: string;
    readonly tools: readonly string[];
    readonly workspace: string | null;
    /** Where this session's audit trail goes: kept in memory (the library's default), a file, or none (chosen explicitly). */
    readonly audit: AuditTarget;
  };
  run_started: {
    readonly task: string;
    readonly limits: {
      readonly maxTurns: number;
      readonly runTimeoutMs: number;
      readonly modelCallTimeoutMs: number;
    };
  };
  model_call_started: { readonly turn: number; readonly model: string };
  text_delta: { readonly turn: number; readonly delta: string };
  model_call_finished: {
    readonly turn: number;
    readonly model: string;
    readonly stopReason: ModelStopReason;
    readonly usage: Usage;
    readonly costUsd: number;
    /** The session's settled spend after this call, as the ledger has it. */
    readonly sessionCostUsd: number;
    readonly durationMs: number;
    /** The assistant message as appended to the history (a reference, not a copy). */
    readonly message: AssistantMessage;
  };
  tool_call_requested: {
    readonly turn: number;
    readonly callId: string;
    readonly tool: string;
    readonly input: unknown;
  };
  tool_call_decided: {
    readonly turn: number;
    readonly callId: string;
    readonly tool: string;
    readonly verdict: "allow" | "deny";
    readonly risk: RiskAssessment | null;
    readonly approval: ApprovalDecision | null;
    readonly stages: readonly StageRecord[];
  };
  tool_call_started: {
    readonly turn: number;
    readonly callId: string;
    readonly tool: string;
    readonly idempotencyKey: string;
    /** The input the tool runs with: validated, frozen, and the one that was classified and approved. */
    readonly input: unknown;
    /** The model's input, present only when a `rewriteToolInput` hook replaced it. */
    readonly originalInput?: unknown;
  };
  tool_call_finished: {
    readonly turn: number;
    readonly callId: string;
    readonly tool: string;
    readonly executed: boolean;
    readonly ok: boolean;
    readonly errorType: string | null;
    /** Exactly what the model reads, after post-processing. */
    readonly content: string;
    readonly truncated: boolean;
    readonly durationMs: number;
    /** What the execute and post-process stages did. */
    readonly stages: readonly StageRecord[];
    /** Present when the tool ran a command in a sandbox: which backend, and how long it took to start. */
    readonly sandbox?: SandboxStart;
  };
  /** A call waits for an approval gate; `tool_call_decided` follows with the decision. */
  approval_requested: {
    readonly turn: number;
    readonly callId: string;
    readonly tool: string;
    readonly approvalId: string;
    readonly risk: RiskAssessment;
    /** The gate's name (`gate:<name>`). */
    readonly by: string;
    readonly timeoutMs: number;
  };
  /**
   * A result processor flagged a tool result: a likely prompt injection, or secrets redacted from it.
   * Emitted before the call's `tool_call_finished`; the result itself is not rewritten by a detection
   * (guards read this event to taint the context).
   */
  content_flagged: {
    readonly turn: number;
    readonly callId: string;
    readonly tool: string;
    readonly kind: "prompt_injection" | "secret";
    /** The processor or detector that flagged it (`injection:heuristic`, `injection:model`, `redaction`). */
    readonly by: string;
    readonly severity: "low" | "medium" | "high";
    /** 0..1; for secrets, 1. */
    readonly score: number;
    /** What was found, never the secret itself (for secrets, the kinds and placeholders). */
    readonly evidence: readonly { readonly signal: string; readonly excerpt: string }[];
  };
  limit_warning: { readonly limit: "max_turns"; readonly turn: number; readonly max: number };
  /** The gateway will send the call again after `delayMs` (a retryable failure before any token was delivered). */
  model_retry: {
    readonly turn: number;
    readonly model: string;
    /** The attempt that failed, from 1. */
    readonly attempt: number;
    readonly delayMs: number;
    /** The HTTP status, or null for a connection failure. */
    readonly status: number | null;
    readonly reason: string;
    /** Whether the delay came from the provider's `retry-after-ms` / `Retry-After` header. */
    readonly retryAfter: boolean;
  };
  /** The call waited for the client-side rate limit of a provider. */
  model_rate_wait: {
    readonly turn: number;
    readonly model: string;
    readonly bucket: string;
    readonly waitMs: number;
    /** Which limit was short: requests per minute or tokens per minute. */
    readonly limit: "requests" | "tokens";
  };
  /** The gateway moved on to the next model of its fallback chain. */
  model_fallback: {
    readonly turn: number;
    readonly from: string;
    readonly to: string;
    readonly reason: string;
  };
  /** A circuit breaker of a provider endpoint changed state. */
  model_breaker: {
    readonly turn: number;
    readonly endpoint: string;
    readonly from: BreakerState;
    readonly to: BreakerState;
    readonly consecutiveFailures: number;
  };
  /** A budget passed a warning fraction (default 50 %) of one of its ceilings. */
  budget_warning: {
    /** `run`, `session` or `budget:<name>`. */
    readonly budget: string;
    readonly fraction: number;
    readonly spentUsd: number;
    readonly limitUsd: number | null;
    readonly spentTokens: number;
    readonly limitTokens: number | null;
  };
  /** The stall detector saw a repeating cycle or the same error again; the model was told in the result. */
  stall_warning: {
    readonly turn: number;
    readonly kind: "cycle" | "same_error";
    /** The repeating calls, as `tool {canonical args}` (capped). */
    readonly cycle: readonly string[];
    readonly repeats: number;
    readonly diagnostic: string;
  };
  /** A circuit breaker changed state. */
  circuit_changed: {
    /** The circuit's name (the tool's). */
    readonly circuit: string;
    readonly from: "closed" | "open" | "half_open";
    readonly to: "closed" | "open" | "half_open";
    readonly failures: number;
    readonly reason: string;
    /** Whether the circuit is shared by every session of the harness. */
    readonly shared: boolean;
  };
  run_ended: {
    readonly status: Exclude<RunStatus, "queued" | "running">;
    readonly stopReason: StopReason;
    readonly turns: number;
    readonly usage: Usage;
    readonly costUsd: number;
    readonly durationMs: number;
    readonly finalText: string;
    /** Calls whose tool did not stop when asked; see `RunResult.unsettledToolCalls`. */
    readonly unsettledToolCalls: readonly { readonly callId: string; readonly tool: string }[];
  };
  session_ended: { readonly runs: number; readonly usage: Usage; readonly costUsd: number };
  /** A durable gate stored the call as a pending approval; the run ends `requires_action`. */
  approval_pending: {
    readonly turn: number;
    readonly callId: string;
    readonly tool: string;
    readonly approvalId: string;
    readonly argsHash: string;
    readonly expiresAt: number;
  };
  /**
   * A run continued from its log (after a crash or a `requires_action` stop). Reservations left
   * open were settled at their worst-case estimate (their outcome is unknown); each unfinished call
   * is re-run (idempotent tool, same idempotency key), answered `outcome_unknown`, or decided again.
   */
  run_resumed: {
    readonly turn: number;
    readonly recoveredReservations: readonly {
      readonly key: string;
      readonly model: string;
      readonly costUsd: number;
      readonly tokens: number;
    }[];
    readonly calls: readonly {
      readonly callId: string;
      readonly tool: string;
      readonly resolution: "rerun" | "outcome_unknown" | "decide";
    }[];
  };
}

export type EventType = keyof EventDataMap;

/** A sandboxed command's start: the sandbox's name (its backend) and its start-up time. */
export interface SandboxStart {
  readonly backend: string;
  readonly startupMs: number;
}

/** States of a circuit breaker: closed (calls pass), open (calls refused), half-open (one probe passes). */
export type BreakerState = "closed" | "open" | "half_open";

/** The events a model (the gateway) reports during one call; the loop adds `turn` and appends them to the session's log. */
export const MODEL_EVENT_TYPES = [
  "model_retry",
  "model_rate_wait",
  "model_fallback",
  "model_breaker",
] as const;
export type ModelEventType = (typeof MODEL_EVENT_TYPES)[number];
export type ModelEvent = {
  [T in ModelEventType]: { readonly type: T; readonly data: Omit<EventDataMap[T], "turn"> };
}[ModelEventType];

/** The envelope every event carries. `seq` is per session, monotonic, assigned before anyone sees the event. */
export interface EventEnvelope<T extends EventType = EventType> {
  readonly v: typeof EVENT_VERSION;
  readonly seq: number;
  readonly sessionId: string;
  readonly runId: string;
  readonly tenantId: string;
  /** Unix epoch milliseconds. */
  readonly ts: number;
  readonly type: T;
  readonly data: EventDataMap[T];
}

/** Any Rein event; narrow on `type`. */
export type ReinEvent = { [T in EventType]: EventEnvelope<T> }[EventType];

/**
 * Rewrites an event's data before the event is appended, so the log, every sink and the live stream
 * see the same, filtered data (secret redaction). Must be O(the event's data) and must not throw.
 */
export interface EventDataFilter {
  readonly name: string;
  filter<T extends EventType>(type: T, data: EventDataMap[T]): EventDataMap[T];
}

/** Something that consumes the event stream as it is appended (audit trail, metrics, live view). */
export interface EventSink {
  readonly name: string;
  /**
   * Called synchronously, in `seq` order. A sink that throws stops the run (a fatal abort with the
   * sink's error code): Rein never goes on unaudited. The call in flight still gets its result.
   */
  handle(event: ReinEvent): void;
  /**
   * For a sink that writes in batches (group commit): resolves when every event handed to `handle`
   * so far is durable, rejects when it cannot be. The loop awaits it before a tool runs (so its
   * `tool_call_started` record exists even if the process dies during the call) and before a turn's
   * tool results reach the model. A rejection stops the run (fatal) and the tool is not run.
   */
  sync?(): Promise<void>;
  /**
   * For a sink that opens asynchronously when a run starts (the audit trail takes its lock and
   * checks its file off the event loop): resolves once it can take the run's records, rejects when
   * it cannot. The loop awaits it after each model call, before the answer's tool calls are handled;
   * a rejection stops the run (fatal) before any of them.
   */
  ready?(): Promise<void>;
  close?(): Promise<void> | void;
}
