/**
 * Trust modes: how much a run may do without a person. The policy's levels stay the same; the mode
 * decides what happens to HIGH calls and which tools exist at all.
 *
 * - `supervised` (default): HIGH waits for a human (the approval gate); no gate means denied.
 * - `semi-autonomous`: HIGH notifies and waits; an unanswered approval resolves after a timeout by a
 *   risk-aware rule (default deny), recorded as a timeout decision. BLOCK never reaches a gate.
 * - `autonomous`: every non-BLOCK call proceeds; `autonomyReport` lists each MEDIUM/HIGH action and
 *   what it touched, for review after the run.
 * - `read-only`: tools that write or execute are not registered at all.
 */
import type { ApprovalDecision, ApprovalGate, ApprovalRequest } from "../approvals/approval-gate.js";
import type { ReinEvent } from "../protocol/events.js";
import type { RiskLevel } from "../protocol/risk.js";
import type { Explanation } from "./explain.js";

export const TRUST_MODES = ["supervised", "semi-autonomous", "autonomous", "read-only"] as const;
export type TrustMode = (typeof TRUST_MODES)[number];

/** Parses a mode as the CLI spells it (`semi` is short for `semi-autonomous`); undefined if unknown. */
export function parseTrustMode(text: string): TrustMode | undefined {
  const t = text === "semi" ? "semi-autonomous" : text;
  return (TRUST_MODES as readonly string[]).includes(t) ? (t as TrustMode) : undefined;
}

/**
 * The gate of autonomous mode: approves the HIGH calls that reach it (BLOCK never does), recorded as
 * approved by `trust:autonomous`. A LOW or MEDIUM call only reaches a gate when a hook or
 * `approvals.requireFor` asked for a person; with no person in this mode, that is a denial.
 */
export const autonomousGate: ApprovalGate = Object.freeze({
  name: "trust:autonomous",
  decide: (request: ApprovalRequest): Promise<ApprovalDecision> =>
    Promise.resolve(
      request.risk.level === "HIGH"
        ? { outcome: "approved", by: "trust:autonomous", scope: "once" }
        : {
            outcome: "denied",
            by: "trust:autonomous",
            reason: `a hook or approvals.requireFor asked for a person to approve this ${request.risk.level} call, and autonomous mode has none`,
          },
    ),
});

export interface SemiAutonomousOptions {
  /** How long a HIGH call waits for a person before the timeout rule decides. */
  readonly timeoutMs: number;
  /** Called when a call starts waiting (a bell, a desktop notification, a chat message). */
  readonly notify?: (request: ApprovalRequest) => void;
  /**
   * Decides an unanswered request: `deny` (the default, whatever the level) or `approve`. It sees the
   * request's risk, so a rule can approve only some HIGH calls. BLOCK calls never reach it.
   */
  readonly onTimeout?: (request: ApprovalRequest) => "deny" | "approve";
}

/**
 * Wraps a gate for semi-autonomous mode: the person is notified and asked; if they have not answered
 * within `timeoutMs`, the timeout rule decides. A timeout denial is recorded as
 * `{ outcome: "timeout", resolution: "denied" }`; a rule's approval as approved by `timeout-rule`.
 *
 * @example
 * const gate = semiAutonomousGate(terminalGate(), { timeoutMs: 60_000, notify: (r) => process.stderr.write("\x07") });
 */
export function semiAutonomousGate(inner: ApprovalGate, options: SemiAutonomousOptions): ApprovalGate {
  const by = `trust:semi-autonomous(${inner.name})`;
  return {
    name: by,
    decide(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalDecision> {
      try {
        options.notify?.(request);
      } catch {
        // a failing notifier must not decide anything
      }
      const controller = new AbortController();
      const onAbort = () => controller.abort(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      return new Promise<ApprovalDecision>((resolve, reject) => {
        const timer = setTimeout(() => {
          controller.abort(new Error("approval timed out"));
          let verdict: "deny" | "approve" = "deny";
          try {
            verdict = request.risk.level === "BLOCK" ? "deny" : (options.onTimeout?.(request) ?? "deny");
          } catch {
            verdict = "deny";
          }
          resolve(
            verdict === "approve"
              ? { outcome: "approved", by: `timeout-rule:${by}`, scope: "once" }
              : { outcome: "timeout", by, resolution: "denied" },
          );
        }, options.timeoutMs);
        inner.decide(request, controller.signal).then(
          (d) => {
            clearTimeout(timer);
            resolve(d);
          },
          (err: unknown) => {
            clearTimeout(timer);
            reject(err);
          },
        );
      }).finally(() => signal.removeEventListener("abort", onAbort));
    },
  };
}

/** One MEDIUM or HIGH action of a run, for the autonomous-mode report. */
export interface AuditedAction {
  readonly callId: string;
  readonly tool: string;
  readonly level: RiskLevel;
  readonly reason: string;
  readonly rule: string;
  readonly executed: boolean;
  /** Paths it read or wrote, commands it ran and URLs it reached (from the policy's explanation). */
  readonly touched: { readonly paths: string[]; readonly commands: string[]; readonly urls: string[] };
}

/**
 * The post-run report of autonomous mode: every MEDIUM and HIGH call and what it touched, built from
 * the run's events (so it can be rebuilt from the event log later).
 *
 * @example
 * const report = autonomyReport(harness.eventLog.read(scope, 0), (tool, input) => policy.explain(tool, input));
 */
export function autonomyReport(
  events: Iterable<ReinEvent>,
  explain?: (tool: string, input: unknown) => Explanation,
): AuditedAction[] {
  const inputs = new Map<string, unknown>();
  const actions = new Map<string, AuditedAction>();
  for (const e of events) {
    if (e.type === "tool_call_requested") inputs.set(e.data.callId, e.data.input);
    else if (
      e.type === "tool_call_decided" &&
      e.data.risk &&
      (e.data.risk.level === "MEDIUM" || e.data.risk.level === "HIGH")
    ) {
      const input = inputs.get(e.data.callId);
      let touched: AuditedAction["touched"] = { paths: [], commands: [], urls: [] };
      if (explain) {
        try {
          const x = explain(e.data.tool, input);
          touched = {
            paths: x.paths.map((p) => `${p.access} ${p.path}`),
            commands: (x.commands ?? []).map((c) => c.text),
            urls: x.urls.map((u) => u.url),
          };
        } catch {
          // the report lists the call even if it cannot be explained again
        }
      }
      actions.set(e.data.callId, {
        callId: e.data.callId,
        tool: e.data.tool,
        level: e.data.risk.level,
        reason: e.data.risk.reason,
        rule: e.data.risk.rule,
        executed: false,
        touched,
      });
    } else if (e.type === "tool_call_finished") {
      const a = actions.get(e.data.callId);
      if (a) actions.set(e.data.callId, { ...a, executed: e.data.executed });
    }
  }
  return [...actions.values()];
}
