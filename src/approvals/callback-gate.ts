import type { ApprovalDecision, ApprovalGate, ApprovalRequest } from "./approval-gate.js";

/**
 * An approval gate that asks a function of yours.
 *
 * @example
 * const gate = callbackGate(async (req) => req.tool === "delete_file" ? { approve: false, reason: "no deletes today" } : { approve: true });
 */
export function callbackGate(
  decide: (
    request: ApprovalRequest,
  ) =>
    | Promise<{ approve: true } | { approve: false; reason: string }>
    | { approve: true }
    | { approve: false; reason: string },
  name = "callback",
): ApprovalGate {
  return {
    name,
    async decide(request: ApprovalRequest): Promise<ApprovalDecision> {
      const answer = await decide(request);
      return answer.approve
        ? { outcome: "approved", by: name, scope: "once" }
        : { outcome: "denied", by: name, reason: answer.reason };
    },
  };
}
