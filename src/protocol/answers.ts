/**
 * Checks for the values that user code answers the pipeline with: a policy's assessment, a guard's
 * verdict, a hook's answer, a gate's decision. Anything that is not exactly one of the documented
 * shapes is malformed, and the stage that asked treats it as a deny (fail closed), recording what it
 * received. Hand-written rather than zod: `protocol/` imports no package, and these run on every
 * tool call (a few property reads each).
 */
import { types } from "node:util";
import type { ApprovalDecision } from "./approval.js";
import type { BeforeToolCallAnswer } from "./hooks.js";
import { RISK_LEVELS, type RiskAssessment, type RiskLevel } from "./risk.js";
import { errorOutcome, type ToolOutcome } from "./tool-result.js";

export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: string };

const LEVELS: ReadonlySet<unknown> = new Set(RISK_LEVELS);

/** Exactly one of LOW, MEDIUM, HIGH, BLOCK (case-sensitive: `"block"` is not a level). */
export function isRiskLevel(value: unknown): value is RiskLevel {
  return LEVELS.has(value);
}

/** A native Promise (checked by its internal slot, so a subclassed or spoofed object is not one). */
export function isNativePromise(value: unknown): value is Promise<unknown> {
  return types.isPromise(value);
}

/** An object with a `then` that is not a native Promise. Never awaited: it could run anything, or nothing. */
export function isForeignThenable(value: unknown): boolean {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false;
  if (types.isPromise(value)) return false;
  try {
    return "then" in value;
  } catch {
    return true; // a Proxy that throws on `has` is no plain answer either
  }
}

/** A short, safe description of a received value for a denial reason (never its whole content). */
export function describeAnswer(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (isForeignThenable(value)) return "a thenable that is not a native Promise";
  if (typeof value === "function") return "a function";
  if (typeof value === "bigint") return `the bigint ${value}`;
  if (typeof value === "symbol") return "a symbol";
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !isForeignThenable(value);
}

const bad = <T>(problem: string): Checked<T> => ({ ok: false, problem });

/** A policy's answer: `{ level, reason, rule }` with a known level and non-empty strings. */
export function checkRiskAssessment(value: unknown): Checked<RiskAssessment> {
  if (!isRecord(value)) return bad(`expected { level, reason, rule }, got ${describeAnswer(value)}`);
  const { level, reason, rule } = value;
  if (!isRiskLevel(level))
    return bad(`unknown risk level ${describeAnswer(level)} (expected exactly LOW, MEDIUM, HIGH or BLOCK)`);
  if (typeof reason !== "string") return bad(`reason must be a string, got ${describeAnswer(reason)}`);
  if (typeof rule !== "string" || rule === "")
    return bad(`rule must be a non-empty string, got ${describeAnswer(rule)}`);
  // Built from the values read once: a getter cannot answer differently later.
  return { ok: true, value: { level, reason, rule } };
}

/** A tool's declared profile: `{ level, reason }` with a known level. */
export function checkRiskProfile(value: unknown): Checked<{ level: RiskLevel; reason: string }> {
  if (!isRecord(value)) return bad(`expected { level, reason }, got ${describeAnswer(value)}`);
  const { level, reason } = value;
  if (!isRiskLevel(level))
    return bad(`unknown risk level ${describeAnswer(level)} (expected exactly LOW, MEDIUM, HIGH or BLOCK)`);
  if (typeof reason !== "string") return bad(`reason must be a string, got ${describeAnswer(reason)}`);
  return { ok: true, value: { level, reason } };
}

const GUARD_STOPS = new Set(["cost_ceiling", "stalled", "circuit_open"]);
const ALLOWED: Checked<{ action: "allow" }> = Object.freeze({
  ok: true,
  value: Object.freeze({ action: "allow" }),
});

/**
 * A guard's verdict (see guards/guard.ts). `allowed` lists the actions valid at this point of the
 * pipeline. The verdict returned is rebuilt from the values read once (a getter cannot flip it).
 */
export function checkGuardVerdict<T extends { action: string }>(
  value: unknown,
  allowed: readonly T["action"][],
): Checked<T> {
  if (!isRecord(value)) return bad(`expected a verdict { action, … }, got ${describeAnswer(value)}`);
  const { action, reason, level, stop, note, details } = value;
  if (typeof action !== "string" || !allowed.includes(action))
    return bad(`action ${describeAnswer(action)} is not one of ${allowed.join(", ")} here`);
  switch (action) {
    case "allow":
      // Nothing but the action matters in an allow: one shared, frozen answer (no allocation per call).
      return ALLOWED as Checked<T>;
    case "deny":
      if (typeof reason !== "string") return bad("a deny verdict needs a string reason");
      if (details === undefined) return { ok: true, value: { action, reason } as unknown as T };
      if (!isRecord(details))
        return bad(`a deny verdict's details must be an object, got ${describeAnswer(details)}`);
      return { ok: true, value: { action, reason, details: { ...details } } as unknown as T };
    case "warn":
      if (typeof note !== "string" || note === "") return bad("a warn verdict needs a non-empty string note");
      return { ok: true, value: { action, note } as unknown as T };
    case "raise":
      if (level !== "MEDIUM" && level !== "HIGH")
        return bad(`a raise verdict's level must be MEDIUM or HIGH, got ${describeAnswer(level)}`);
      if (typeof reason !== "string") return bad("a raise verdict needs a string reason");
      return { ok: true, value: { action, level, reason } as unknown as T };
    case "stop": {
      if (!isRecord(stop) || typeof stop.type !== "string" || !GUARD_STOPS.has(stop.type))
        return bad(
          `a stop verdict's stop must be a cost_ceiling, stalled or circuit_open reason, got ${describeAnswer(stop)}`,
        );
      const copy = { ...stop };
      if (copy.type === "cost_ceiling" && !(copy.limitUsd === null || typeof copy.limitUsd === "number"))
        return bad(
          `a cost_ceiling stop needs a numeric limitUsd (or null), got ${describeAnswer(copy.limitUsd)}`,
        );
      if (copy.type === "stalled" && typeof copy.diagnostic !== "string")
        return bad("a stalled stop needs a string diagnostic");
      if (copy.type === "circuit_open" && typeof copy.circuit !== "string")
        return bad("a circuit_open stop needs the circuit's name");
      return { ok: true, value: { action, stop: copy } as unknown as T };
    }
    default:
      return bad(`unknown action ${describeAnswer(action)}`);
  }
}

/** `beforeToolCall`'s answer: nothing, `{ deny: string }` or `{ requireApproval: true }`. */
export function checkBeforeToolCallAnswer(value: unknown): Checked<BeforeToolCallAnswer> {
  if (value === undefined) return { ok: true, value };
  if (!isRecord(value))
    return bad(
      `expected undefined, { deny: reason } or { requireApproval: true }, got ${describeAnswer(value)}`,
    );
  const keys = Object.keys(value);
  if (keys.length === 1 && typeof value.deny === "string") return { ok: true, value: { deny: value.deny } };
  if (keys.length === 1 && value.requireApproval === true)
    return { ok: true, value: { requireApproval: true } };
  return bad(
    `expected undefined, { deny: reason } or { requireApproval: true }, got ${describeAnswer(value)}`,
  );
}

/** A gate's decision: one of the three documented shapes, nothing else. */
export function checkApprovalDecision(value: unknown): Checked<ApprovalDecision> {
  if (!isRecord(value)) return bad(`expected an approval decision, got ${describeAnswer(value)}`);
  const { outcome, by } = value;
  if (typeof by !== "string" || by === "")
    return bad(`the decision's "by" must be a non-empty string, got ${describeAnswer(value)}`);
  if (outcome === "approved") {
    if (value.scope !== "once" && value.scope !== "session")
      return bad(`an approval's scope must be "once" or "session", got ${describeAnswer(value.scope)}`);
    return { ok: true, value: { outcome, by, scope: value.scope } };
  }
  if (outcome === "denied") {
    if (typeof value.reason !== "string") return bad("a denial needs a string reason");
    return { ok: true, value: { outcome, by, reason: value.reason } };
  }
  if (outcome === "timeout" && value.resolution === "denied")
    return { ok: true, value: { outcome, by, resolution: "denied" } };
  if (outcome === "pending") {
    const { approvalId, expiresAt } = value;
    if (typeof approvalId !== "string" || approvalId === "" || !Number.isFinite(expiresAt))
      return bad("a pending decision needs a string approvalId and a numeric expiresAt");
    return { ok: true, value: { outcome, by, approvalId, expiresAt: expiresAt as number } };
  }
  return bad(`unknown decision outcome in ${describeAnswer(value)}`);
}

/**
 * A tool outcome handed back by a result processor or an `afterToolCall` hook: `{ ok: true, content,
 * truncated }` or `{ ok: false, error: { type, message, details? } }`, rebuilt from values read once.
 */
export function checkToolOutcome(value: unknown): Checked<ToolOutcome> {
  if (!isRecord(value)) return bad(`expected a tool outcome, got ${describeAnswer(value)}`);
  const { ok } = value;
  if (ok === true) {
    const { content, truncated } = value;
    if (typeof content !== "string")
      return bad(`an ok outcome's content must be a string, got ${describeAnswer(content)}`);
    if (typeof truncated !== "boolean") return bad("an ok outcome needs a boolean truncated");
    return { ok: true, value: { ok, content, truncated } };
  }
  if (ok === false) {
    const { error } = value;
    if (!isRecord(error) || typeof error.type !== "string" || typeof error.message !== "string")
      return bad(`an error outcome needs error: { type, message }, got ${describeAnswer(error)}`);
    const details = error.details;
    if (details !== undefined && !isRecord(details))
      return bad("an error outcome's details must be an object");
    return { ok: true, value: errorOutcome(error.type, error.message, details) };
  }
  return bad(`expected a tool outcome with ok: true or false, got ${describeAnswer(value)}`);
}
