import type { RiskAssessment } from "../protocol/risk.js";
import type { Tool } from "../tools/tool.js";
import type { Policy, PolicyCall } from "./policy.js";

/**
 * The foundation's policy: a call has the level its tool declares. A tool that declares nothing is HIGH
 * (unknown risk is treated as high risk). It does not look at arguments; the policy engine will.
 */
export class ToolProfilePolicy implements Policy {
  readonly name = "tool-profile";
  /** The assessment depends only on the tool, so each tool's is built once and shared (frozen). */
  readonly #cache = new WeakMap<Tool, RiskAssessment>();

  classify({ tool }: PolicyCall): RiskAssessment {
    let assessment = this.#cache.get(tool);
    if (!assessment) {
      assessment = Object.freeze(
        tool.risk
          ? { level: tool.risk.level, reason: tool.risk.reason, rule: `tool-profile:${tool.name}` }
          : {
              level: "HIGH",
              reason: `tool "${tool.name}" declares no risk profile`,
              rule: "default:undeclared-tool",
            },
      );
      this.#cache.set(tool, assessment);
    }
    return assessment;
  }
}
