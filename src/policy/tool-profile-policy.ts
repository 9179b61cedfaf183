import type { Policy, PolicyCall } from "./policy.js";
import type { RiskAssessment } from "./risk.js";

/**
 * The foundation's policy: a call has the level its tool declares. A tool that declares nothing is HIGH
 * (unknown risk is treated as high risk). It does not look at arguments; the policy engine will.
 */
export class ToolProfilePolicy implements Policy {
  readonly name = "tool-profile";

  classify({ tool }: PolicyCall): RiskAssessment {
    if (tool.risk)
      return { level: tool.risk.level, reason: tool.risk.reason, rule: `tool-profile:${tool.name}` };
    return {
      level: "HIGH",
      reason: `tool "${tool.name}" declares no risk profile`,
      rule: "default:undeclared-tool",
    };
  }
}
