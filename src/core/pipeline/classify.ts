import { errorMessage } from "../../protocol/errors.js";
import type { StageRecord } from "../../protocol/events.js";
import type { RiskAssessment } from "../../protocol/risk.js";
import type { Tool } from "../../tools/tool.js";
import type { RunContext } from "../run-context.js";

export interface Classified {
  readonly risk: RiskAssessment;
  readonly record: StageRecord;
}

/** Policies often return the same (frozen) assessment for a tool: build its record once. */
const records = new WeakMap<RiskAssessment, StageRecord>();

function classified(policyName: string, risk: RiskAssessment): Classified {
  let record = records.get(risk);
  if (!record) {
    record = Object.freeze({
      stage: "classify",
      outcome: risk.level === "BLOCK" ? "deny" : "pass",
      by: `policy:${policyName}`,
      note: `${risk.level} (${risk.rule})`,
    } as const);
    if (Object.isFrozen(risk)) records.set(risk, record);
  }
  return { risk, record };
}

function failClosed(policyName: string, err: unknown): Classified {
  return classified(policyName, {
    level: "BLOCK",
    reason: `policy "${policyName}" failed: ${errorMessage(err)}`,
    rule: "fail-closed:policy-error",
  });
}

/**
 * Stage 2: the policy's risk assessment. A policy that throws (or rejects) fails closed: BLOCK.
 * Synchronous when the policy is, so a step pays no extra turn of the event loop for it.
 */
export function classifyCall(ctx: RunContext, tool: Tool, input: unknown): Classified | Promise<Classified> {
  const { policy, sessionId, tenantId } = ctx.deps;
  let result: RiskAssessment | Promise<RiskAssessment>;
  try {
    result = policy.classify({ tool, input, sessionId, tenantId });
  } catch (err) {
    return failClosed(policy.name, err);
  }
  if (result instanceof Promise) {
    return result.then(
      (risk) => classified(policy.name, risk),
      (err: unknown) => failClosed(policy.name, err),
    );
  }
  return classified(policy.name, result);
}
