import type { ReinEvent } from "./events.js";
import type { Message, ToolResultBlock, ToolUseBlock } from "./messages.js";
import type { RiskAssessment } from "./risk.js";

/** The calls of the turn a run stopped in (a crash, or a pending approval), as its log has them. */
export interface PendingTurn {
  /** Every tool_use of the turn's assistant message, in order. */
  readonly calls: readonly ToolUseBlock[];
  /** Calls that have their result. */
  readonly finished: ReadonlyMap<string, ToolResultBlock>;
  /** Calls journalled as started (`tool_call_started`) and not finished: their outcome is unknown. */
  readonly started: ReadonlyMap<
    string,
    { readonly idempotencyKey: string; readonly input: unknown; readonly risk: RiskAssessment | null }
  >;
}

/** How to continue a run from its log: built by `resumePlan` (state), carried out by `Session.resume` (core). */
export interface ResumePlan {
  /** The run continues under its own id, so idempotency and ledger keys stay the same. */
  readonly runId: string;
  /** The last turn the run reached. */
  readonly turn: number;
  /** The conversation up to the pending turn's assistant message (or the whole of it). */
  readonly history: readonly Message[];
  readonly pendingTurn: PendingTurn | undefined;
  /** The run's events so far, from its `run_started`: guards rebuild their state from them (`Guard.resumed`). */
  readonly runEvents?: readonly ReinEvent[];
  /** Reservations the ledger still holds for the session: settled at their estimate (outcome unknown). */
  readonly openReservations: readonly {
    readonly key: string;
    readonly model: string;
    readonly estimateUsd: number;
    readonly estimateTokens: number;
  }[];
}
