import type { ApprovalGate } from "../approvals/approval-gate.js";
import type { ReinConfig } from "../config/config-file.js";
import { createHarness, type HarnessConfig } from "../harness.js";
import type { Model } from "../models/model.js";
import type { TrustMode } from "../policy/trust-mode.js";
import { ReinError } from "../protocol/errors.js";
import type { ReinEvent } from "../protocol/events.js";
import type { RunResult } from "../protocol/run-result.js";
import {
  type CreateSandboxOptions,
  createSandbox,
  NO_ISOLATION_WARNING,
  type SandboxBackend,
} from "../sandbox/create-sandbox.js";
import type { Sandbox } from "../sandbox/sandbox.js";
import { auditKeyFromEnv } from "../telemetry/audit-key.js";
import { verifyAuditFile } from "../telemetry/audit-verify.js";
import { LiveView } from "./live-view.js";
import { notifyPending, printAutonomyReport, runPolicy, terminalGateFor } from "./run-policy.js";
import { terminalSafeJson } from "./terminal-text.js";

export interface RunCommandOptions {
  readonly task: string;
  readonly model: string | Model;
  readonly workspace: string;
  readonly maxTurns?: number;
  readonly timeoutMs?: number;
  /** USD and token ceilings of the run (`--max-cost`, `--max-tokens`). */
  readonly maxCostUsd?: number;
  readonly maxTokens?: number;
  /** The stall detector's window (`--stall-window`); the detector is always on in `rein run`. */
  readonly stallWindow?: number;
  /** Guards from the config file; `stallWindow` overrides its stall window. */
  readonly guards?: ReinConfig["guards"];
  readonly json: boolean;
  readonly auditDir: string | false;
  /** Where run_shell and run_code run: bubblewrap (default) or none (no isolation, with a warning). */
  readonly sandbox: SandboxBackend;
  /** The config file's `sandbox:` section: per-language routing of run_code, the Pyodide pool, memory. */
  readonly sandboxConfig?: ReinConfig["sandbox"];
  readonly system?: string;
  /** Who decides calls that need approval; default: the terminal when there is one, else none (denied). */
  readonly gate?: ApprovalGate;
  /** supervised (default), semi-autonomous, autonomous or read-only. */
  readonly trust?: TrustMode;
  /** An explicit policy file layered above the workspace's rein.policy.yaml. */
  readonly policyFile?: string;
  /** How long an approval waits (semi-autonomous: then the timeout rule denies). */
  readonly approvalTimeoutMs?: number;
}

/** Exit codes: 0 completed, 1 failed, 3 incomplete (a limit stopped it), 130 cancelled. */
export function exitCodeOf(result: RunResult): number {
  return result.status === "completed"
    ? 0
    : result.status === "failed"
      ? 1
      : result.status === "cancelled"
        ? 130
        : 3;
}

/** What `rein run` and `rein demo` share: build the harness, run, render live, summarise. */
export async function executeRun(options: RunCommandOptions): Promise<number> {
  if (options.sandbox === "none") process.stderr.write(`rein: WARNING ${NO_ISOLATION_WARNING}\n`);
  const sandbox: Sandbox = createSandbox({
    backend: options.sandbox,
    workspace: options.workspace,
    ...sandboxFileOptions(options.sandboxConfig),
  });
  try {
    return await runIn(options, sandbox);
  } finally {
    await sandbox.dispose();
  }
}

/** The config file's sandbox section as `createSandbox` options. */
export function sandboxFileOptions(c: ReinConfig["sandbox"]): Omit<CreateSandboxOptions, "backend"> {
  return {
    ...(c?.code ? { code: c.code } : {}),
    ...(c?.pyodide?.poolSize !== undefined ? { pyodidePoolSize: c.pyodide.poolSize } : {}),
    ...(c?.pyodide?.memory !== undefined ? { pyodideMemory: c.pyodide.memory } : {}),
    ...(c?.quickjs?.memory !== undefined ? { quickjsMemory: c.quickjs.memory } : {}),
  };
}

async function runIn(options: RunCommandOptions, sandbox: Sandbox): Promise<number> {
  const trust = options.trust ?? "supervised";
  const policy = await runPolicy(options.workspace, options.policyFile);
  const gate = options.gate ?? terminalGateFor(policy, options.workspace, trust);
  const config: HarnessConfig = {
    policy,
    trust,
    model: options.model,
    workspace: options.workspace,
    audit: options.auditDir === false ? false : { dir: options.auditDir },
    limits: {
      ...(options.maxTurns !== undefined ? { maxTurns: options.maxTurns } : {}),
      ...(options.timeoutMs !== undefined ? { runTimeoutMs: options.timeoutMs } : {}),
      ...(options.maxCostUsd !== undefined ? { maxCostUsd: options.maxCostUsd } : {}),
      ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
    },
    // A loop burns turns and money: the CLI always watches for one, and trips breakers on flaky tools.
    guards: {
      circuitBreaker: true,
      ...options.guards,
      stall:
        options.stallWindow !== undefined
          ? {
              ...(typeof options.guards?.stall === "object" ? options.guards.stall : {}),
              window: options.stallWindow,
            }
          : (options.guards?.stall ?? true),
    },
    ...(options.system !== undefined ? { system: options.system } : {}),
    ...(gate
      ? {
          approvals: {
            gate,
            ...(options.approvalTimeoutMs !== undefined ? { timeoutMs: options.approvalTimeoutMs } : {}),
            ...(trust === "semi-autonomous" ? { notify: notifyPending } : {}),
          },
        }
      : {}),
    sandbox,
  };
  const harness = createHarness(config);
  const session = harness.session();
  const view = options.json ? undefined : new LiveView(process.stdout);

  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write("\nrein: interrupted; cancelling the run (press Ctrl-C again to exit at once)\n");
    session.cancel("interrupted (SIGINT)");
  };
  process.on("SIGINT", onSigint);
  // A closed stdout (e.g. `rein run --json | head`) cancels the run quietly instead of crashing it.
  let stdoutClosed = false;
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_DESTROYED") throw err;
    stdoutClosed = true;
    session.cancel("stdout was closed");
  });
  const render = (event: ReinEvent) => {
    if (view) view.handle(event);
    else if (!stdoutClosed) process.stdout.write(`${terminalSafeJson(JSON.stringify(event))}\n`);
  };
  try {
    const stream = session.stream(options.task);
    for await (const event of stream) render(event);
    const result = await stream.result;
    await session.close();
    // Events after the run (session_ended) come from the log: a reader after seq N sees what a live reader saw.
    const scope = { tenantId: session.tenantId, sessionId: session.id };
    for (const event of harness.eventLog.read(scope, result.lastSeq)) render(event);
    const file = harness.auditFile(session.id);
    let audit: { file: string; records: number; headHash: string } | undefined;
    if (file) {
      const verified = verifyAuditFile(file, { key: auditKeyFromEnv() });
      if (!verified.ok)
        throw new ReinError(
          "REIN_AUDIT_UNREADABLE",
          `The audit trail ${file} failed verification (${verified.status}): ${verified.reason}`,
        );
      audit = { file, records: verified.records, headHash: verified.headHash };
    }
    const budget = harness.ceilings.find((c) => c.account === "run");
    view?.summary(result, audit, budget);
    if (trust === "autonomous") printAutonomyReport(harness.eventLog.read(scope, 0), policy);
    return exitCodeOf(result);
  } finally {
    process.off("SIGINT", onSigint);
  }
}
