import type { RiskAssessment } from "./risk.js";

/** A call waiting for a human (or program) to decide. Bound to a hash of its exact arguments. */
export interface ApprovalRequest {
  readonly id: string;
  readonly tenantId: string;
  readonly sessionId: string;
  readonly runId: string;
  readonly callId: string;
  readonly tool: string;
  readonly input: unknown;
  /** sha256 of the canonical JSON of `{ tool, input }`; a decision applies to these arguments only. */
  readonly argsHash: string;
  readonly risk: RiskAssessment;
  readonly requestedAt: number;
  /** The run's turn the call belongs to (with `callId`, it names the call across a resume). */
  readonly turn?: number;
}

export type ApprovalDecision =
  | { readonly outcome: "approved"; readonly by: string; readonly scope: "once" | "session" }
  | { readonly outcome: "denied"; readonly by: string; readonly reason: string }
  | { readonly outcome: "timeout"; readonly by: string; readonly resolution: "denied" }
  /**
   * A durable gate stored the request for a person to decide later: the run ends `requires_action`
   * without running the call, and `resume` asks the gate again.
   */
  | {
      readonly outcome: "pending";
      readonly by: string;
      readonly approvalId: string;
      readonly expiresAt: number;
    };
