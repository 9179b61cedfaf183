import type { Message, Usage } from "./messages.js";
import type { RunStatus, StopReason } from "./stop-reason.js";

/** What `run()` resolves to, and what `stream().result` holds. */
export interface RunResult {
  readonly sessionId: string;
  readonly runId: string;
  readonly status: Extract<
    RunStatus,
    "completed" | "failed" | "cancelled" | "incomplete" | "requires_action"
  >;
  readonly stopReason: StopReason;
  /** The text of the last assistant message. */
  readonly finalText: string;
  /** Model calls in this run. */
  readonly turns: number;
  readonly toolCalls: number;
  /** Tokens and cost of this run, read from the ledger (which also holds the session's totals). */
  readonly usage: Usage;
  readonly costUsd: number;
  readonly durationMs: number;
  /** The session's whole history, by reference. */
  readonly messages: readonly Message[];
  /**
   * Tool calls that were asked to stop (cancel, timeout) and had not stopped `abortGraceMs` later:
   * their result says `outcome_unknown`, and they may still be running after this result.
   */
  readonly unsettledToolCalls: readonly { readonly callId: string; readonly tool: string }[];
  /** `seq` of this run's `run_ended` event: a reader resuming after it sees only later runs. */
  readonly lastSeq: number;
}

/** @deprecated A run's result is a {@link RunResult}; this alias is kept for code written against 0.1. */
export type SessionResult = RunResult;
