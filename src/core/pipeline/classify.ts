import type { RiskAssessment } from "../../policy/risk.js";
import type { Tool } from "../../tools/tool.js";
import { errorMessage } from "../errors.js";
import type { StageRecord } from "../events.js";
import type { RunContext } from "../run-context.js";

/** Stage 2: the policy's risk assessment. A policy that throws fails closed (BLOCK). */
export async function classifyCall(
  ctx: RunContext,
  tool: Tool,
  input: unknown,
): Promise<{ risk: RiskAssessment; record: StageRecord }> {
  const { policy, sessionId, tenantId } = ctx.deps;
  let risk: RiskAssessment;
  try {
    risk = await policy.classify({ tool, input, sessionId, tenantId });
  } catch (err) {
    risk = {
      level: "BLOCK",
      reason: `policy "${policy.name}" failed: ${errorMessage(err)}`,
      rule: "fail-closed:policy-error",
    };
  }
  return {
    risk,
    record: {
      stage: "classify",
      outcome: risk.level === "BLOCK" ? "deny" : "pass",
      by: `policy:${policy.name}`,
      note: `${risk.level} (${risk.rule})`,
    },
  };
}
