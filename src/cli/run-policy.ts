import { readFile } from "node:fs/promises";
import { relative, resolve } from "node:path";
import type { ApprovalGate } from "../approvals/approval-gate.js";
import { terminalGate } from "../approvals/terminal-gate.js";
import { PolicyEngine } from "../policy/policy-engine.js";
import { loadShellParser } from "../policy/shell-parse.js";
import { type AuditedAction, autonomyReport, type TrustMode } from "../policy/trust-mode.js";
import type { ReinEvent } from "../protocol/events.js";
import { policyLayers } from "./policy-command.js";

/**
 * The policy of a `rein run`: the workspace's rein.policy.yaml (and --policy) over the built-in
 * defaults, with the shell parser loaded so every decision is synchronous, and every rule's
 * examples checked (a policy whose examples fail does not load).
 */
export async function runPolicy(workspace: string, policyFile?: string): Promise<PolicyEngine> {
  await loadShellParser();
  const engine = new PolicyEngine({ workspace, layers: policyLayers({ workspace, policy: policyFile }) });
  engine.checkExamples();
  return engine;
}

/**
 * The terminal gate when `rein run` has a person at a terminal (stdin and stdout are TTYs) and the
 * trust mode may ask one; otherwise none, and HIGH calls are denied (fail closed).
 */
export function terminalGateFor(
  engine: PolicyEngine,
  workspace: string,
  trust: TrustMode,
): ApprovalGate | undefined {
  if (trust === "autonomous" || !process.stdin.isTTY || !process.stdout.isTTY) return undefined;
  return terminalGate({
    details: (request) => {
      const e = engine.explain(request.tool, request.input);
      return (e.commands ?? []).map((c) => `${c.level.padEnd(6)} ${c.text}  — ${c.reason} (${c.rule})`);
    },
    readCurrent: async (path) => {
      const file = resolve(workspace, path);
      if (relative(workspace, file).startsWith("..")) return null;
      return readFile(file, "utf8").catch(() => null);
    },
  });
}

/** Semi-autonomous mode's notification: a bell and a line on stderr. */
export function notifyPending(request: { tool: string; risk: { level: string; reason: string } }): void {
  process.stderr.write(
    `\x07rein: waiting for approval: ${request.tool} (${request.risk.level}: ${request.risk.reason})\n`,
  );
}

/** Autonomous mode's post-run report, on stderr. */
export function printAutonomyReport(events: Iterable<ReinEvent>, engine: PolicyEngine): AuditedAction[] {
  const actions = autonomyReport(events, (tool, input) => engine.explain(tool, input));
  const lines = [`rein: autonomous run: ${actions.length} MEDIUM/HIGH action(s) to review`];
  for (const a of actions) {
    const touched = [
      ...a.touched.commands.map((c) => `ran ${c}`),
      ...a.touched.paths,
      ...a.touched.urls.map((u) => `reached ${u}`),
    ];
    lines.push(
      `  ${a.level.padEnd(6)} ${a.tool}${a.executed ? "" : " (not executed)"}: ${a.reason} [${a.rule}]`,
    );
    if (touched.length > 0) lines.push(`         touched: ${touched.join("; ")}`);
  }
  process.stderr.write(`${lines.join("\n")}\n`);
  return actions;
}
