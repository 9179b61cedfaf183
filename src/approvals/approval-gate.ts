import type { ApprovalDecision, ApprovalRequest } from "../protocol/approval.js";

export type { ApprovalDecision, ApprovalRequest } from "../protocol/approval.js";

/**
 * Decides on calls that need approval. Terminal, callback and durable gates implement this.
 * A gate that throws, or never answers before the signal aborts, fails closed (denied).
 */
export interface ApprovalGate {
  readonly name: string;
  decide(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalDecision>;
}
