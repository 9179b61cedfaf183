import type { ErrorCode } from "./errors.js";

/**
 * Why a run ended. Every ending has one of these; never a bare string.
 * `cost_ceiling`, `stalled` and `circuit_open` are produced by guards (see guards/guard.ts).
 */
export type StopReason =
  | { readonly type: "completed" }
  | { readonly type: "max_turns"; readonly limit: number }
  | { readonly type: "timeout"; readonly scope: "run" | "model_call"; readonly limitMs: number }
  | { readonly type: "cancelled"; readonly reason: string }
  | { readonly type: "error"; readonly code: ErrorCode; readonly message: string }
  | {
      readonly type: "cost_ceiling";
      /** The USD ceiling that would have been crossed (null when a token ceiling stopped the run). */
      readonly limitUsd: number | null;
      /** Settled spend of that budget when the run stopped. */
      readonly spentUsd: number;
      /** Which budget: `run`, `session` or `budget:<name>` (a shared budget). */
      readonly budget?: string;
      readonly limitTokens?: number;
      readonly spentTokens?: number;
      /** What was refused and why, in one sentence. */
      readonly diagnostic?: string;
    }
  | { readonly type: "stalled"; readonly diagnostic: string }
  | { readonly type: "circuit_open"; readonly circuit: string }
  /** A durable approval gate stored pending approvals: decide them, then resume the session. */
  | { readonly type: "requires_action"; readonly approvals: readonly string[] };

export type StopReasonType = StopReason["type"];

/** Run status, as the HTTP API and workers will expose it. */
export type RunStatus =
  | "queued"
  | "running"
  | "requires_action"
  | "completed"
  | "failed"
  | "cancelled"
  | "incomplete";

/** The terminal status a stop reason maps to. */
export function statusOf(
  reason: StopReason,
): "completed" | "failed" | "cancelled" | "incomplete" | "requires_action" {
  switch (reason.type) {
    case "requires_action":
      return "requires_action";
    case "completed":
      return "completed";
    case "cancelled":
      return "cancelled";
    case "error":
      return "failed";
    default:
      return "incomplete";
  }
}
