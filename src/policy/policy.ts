import type { RiskAssessment } from "../protocol/risk.js";
import type { Tool } from "../tools/tool.js";

/** A call as the policy sees it: validated input and the tool's declared profile. */
export interface PolicyCall {
  readonly tool: Tool;
  readonly input: unknown;
  readonly sessionId: string;
  readonly tenantId: string;
}

/**
 * Classifies tool calls. The foundation ships `ToolProfilePolicy` (the tool's declared level);
 * the policy issue adds argument-level rules behind this same interface.
 */
export interface Policy {
  readonly name: string;
  classify(call: PolicyCall): RiskAssessment | Promise<RiskAssessment>;
}
