import { checkRiskAssessment, describeAnswer, isNativePromise } from "../../protocol/answers.js";
import { errorMessage } from "../../protocol/errors.js";
import type { StageRecord } from "../../protocol/events.js";
import type { RiskAssessment } from "../../protocol/risk.js";
import type { Tool } from "../../tools/tool.js";
import type { RunContext } from "../run-context.js";

export interface Classified {
  readonly risk: RiskAssessment;
  readonly record: StageRecord;
}

/**
 * Policies often return the same frozen assessment for a tool: check it and build its record once.
 * Only frozen answers with plain data properties are cached (a getter could answer differently later).
 */
const cache = new WeakMap<object, Classified>();

function cacheable(answer: object): boolean {
  if (!Object.isFrozen(answer)) return false;
  for (const key of ["level", "reason", "rule"]) {
    const d = Object.getOwnPropertyDescriptor(answer, key);
    if (!d || !("value" in d)) return false;
  }
  return true;
}

function classified(policyName: string, answer: unknown): Classified {
  const known = typeof answer === "object" && answer !== null ? cache.get(answer) : undefined;
  if (known) return known;
  const checked = checkRiskAssessment(answer);
  if (!checked.ok) return failClosed(policyName, `answered a malformed assessment: ${checked.problem}`);
  // A copy of what was checked: nothing the policy holds can change the level after this point.
  const { level, reason, rule } = checked.value;
  const risk: RiskAssessment = Object.freeze({ level, reason, rule });
  const result: Classified = {
    risk,
    record: Object.freeze({
      stage: "classify",
      outcome: level === "BLOCK" ? "deny" : "pass",
      by: `policy:${policyName}`,
      note: `${level} (${rule})`,
    } as const),
  };
  if (cacheable(answer as object)) cache.set(answer as object, result);
  return result;
}

function failClosed(policyName: string, why: string): Classified {
  const risk: RiskAssessment = {
    level: "BLOCK",
    reason: `policy "${policyName}" ${why} (fail closed)`,
    rule: "fail-closed:policy-error",
  };
  return {
    risk,
    record: { stage: "classify", outcome: "deny", by: `policy:${policyName}`, note: risk.reason },
  };
}

/**
 * Stage 2: the policy's risk assessment. A policy that throws, rejects, or answers anything but a
 * well-formed assessment (an unknown level, `undefined`, a thenable that is not a native Promise)
 * fails closed: BLOCK, with what it answered in the reason. Synchronous when the policy is.
 */
export function classifyCall(ctx: RunContext, tool: Tool, input: unknown): Classified | Promise<Classified> {
  const { policy, sessionId, tenantId } = ctx.deps;
  const name = typeof policy.name === "string" ? policy.name : describeAnswer(policy.name);
  let answer: unknown;
  try {
    answer = policy.classify({ tool, input, sessionId, tenantId });
  } catch (err) {
    return failClosed(name, `failed: ${errorMessage(err)}`);
  }
  if (isNativePromise(answer)) {
    return answer.then(
      (settled) => classified(name, settled),
      (err: unknown) => failClosed(name, `failed: ${errorMessage(err)}`),
    );
  }
  return classified(name, answer);
}
