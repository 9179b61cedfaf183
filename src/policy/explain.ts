import type { RiskLevel } from "../protocol/risk.js";
import type { OverrideRecord } from "./layered-policy.js";
import type { PathVerdict } from "./path-rules.js";
import type { CommandVerdict, UrlVerdict } from "./shell-analysis.js";
import type { ShellProblem } from "./shell-parse.js";

/** What happens to a call at each level (before trust modes). */
export type PolicyDecision = "run" | "run-and-log" | "needs-approval" | "blocked";

export function decisionOf(level: RiskLevel): PolicyDecision {
  return level === "LOW"
    ? "run"
    : level === "MEDIUM"
      ? "run-and-log"
      : level === "HIGH"
        ? "needs-approval"
        : "blocked";
}

/** The full reasoning behind one call's level: what `rein policy explain` prints. */
export interface Explanation {
  readonly tool: string;
  readonly level: RiskLevel;
  readonly decision: PolicyDecision;
  readonly reason: string;
  readonly rule: string;
  /** For shell commands: every simple command with its own verdict (nested ones name their parent). */
  readonly commands?: readonly CommandVerdict[];
  /** Parse problems (each one makes the call at least HIGH). */
  readonly problems?: readonly ShellProblem[];
  readonly paths: readonly PathVerdict[];
  readonly urls: readonly UrlVerdict[];
  /** BLOCKs loosened by an explicit override. */
  readonly overrides: readonly OverrideRecord[];
}

/** A compact JSON form for the CLI: commands without their internal findings list. */
export function explanationJson(e: Explanation): unknown {
  return {
    tool: e.tool,
    level: e.level,
    decision: e.decision,
    reason: e.reason,
    rule: e.rule,
    ...(e.commands
      ? {
          commands: e.commands.map((c) => ({
            id: c.id,
            text: c.text,
            argv: c.argv,
            program: c.name,
            ...(c.via.length > 0 ? { via: c.via } : {}),
            level: c.level,
            reason: c.reason,
            rule: c.rule,
            ...(c.parent !== null ? { parent: c.parent } : {}),
          })),
        }
      : {}),
    ...(e.problems && e.problems.length > 0 ? { problems: e.problems } : {}),
    paths: e.paths.map((p) => ({ path: p.path, access: p.access, level: p.level, rule: p.rule })),
    urls: e.urls,
    ...(e.overrides.length > 0 ? { overrides: e.overrides } : {}),
  };
}
