import type { ApprovalDecision, ApprovalRequest, ToolCallShape } from "../protocol/approval.js";

export type {
  ApprovalDecision,
  ApprovalRequest,
  ApprovalRequestFields,
  ToolCallShape,
} from "../protocol/approval.js";

/**
 * Decides on calls that need approval. Terminal, callback and durable gates implement this.
 * A gate that throws, or never answers before the signal aborts, fails closed (denied).
 */
export interface ApprovalGate<C extends ToolCallShape = ToolCallShape> {
  readonly name: string;
  decide(request: ApprovalRequest<C>, signal: AbortSignal): Promise<ApprovalDecision>;
}
