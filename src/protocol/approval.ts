import type { RiskAssessment } from "./risk.js";

/** A tool call by name and validated input: `{ tool: "get_weather", input: { city: string } }`. */
export interface ToolCallShape {
  readonly tool: string;
  readonly input: unknown;
}

/**
 * A call waiting for a human (or program) to decide. Bound to a hash of its exact arguments.
 * `C` is the union of the harness's tool calls (`createHarness` infers it from `tools`), so
 * `request.tool === "get_weather"` narrows `request.input` to that tool's schema output.
 */
export type ApprovalRequest<C extends ToolCallShape = ToolCallShape> = ApprovalRequestFields & C;

/** What every approval request carries besides the call itself. */
export interface ApprovalRequestFields {
  readonly id: string;
  readonly tenantId: string;
  readonly sessionId: string;
  readonly runId: string;
  readonly callId: string;
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
