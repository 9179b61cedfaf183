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
import type { Tool } from "../tools/tool.js";
import { LiveView } from "./live-view.js";
import {
  type Observability,
  type ObservabilityFlags,
  printObservabilitySummary,
  startObservability,
} from "./observability-options.js";
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
  /** The docker and gvisor backends' container settings (the config file's `sandbox.docker`). */
  readonly docker?: CreateSandboxOptions["docker"];
  readonly system?: string;
  /** Who decides calls that need approval; default: the terminal when there is one, else none (denied). */
  readonly gate?: ApprovalGate;
  /** supervised (default), semi-autonomous, autonomous or read-only. */
  readonly trust?: TrustMode;
  /** An explicit policy file layered above the workspace's rein.policy.yaml. */
  readonly policyFile?: string;
  /** How long an approval waits (semi-autonomous: then the timeout rule denies). */
  readonly approvalTimeoutMs?: number;
  /** Traces, metrics and logs (`--otel`, `--metrics-port`, `--log-level`); none by default. */
  readonly observability?: ObservabilityFlags;
  /** The user's own tools (from a rein.config.ts / .js), registered beside the built-ins. */
  readonly tools?: readonly Tool[];
}

/** Signals that end a run like Ctrl-C: cancelled, `run_ended`, summary; exit 128 + the signal's number. */
const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type StopSignal = keyof typeof STOP_SIGNALS;

/** What the JSON lines of `run_ended` and `session_ended` add: where the audit trail is and its head. */
interface AuditSummary {
  readonly file: string;
  readonly records: number;
  readonly headHash: string;
}

/** Exit codes: 0 completed, 1 failed, 3 incomplete (a limit stopped it), 130 cancelled (143/129 by SIGTERM/SIGHUP). */
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
  // Before anything else: a --metrics-port in use fails here, with nothing to undo.
  const observability = await startObservability(options.observability);
  let sandbox: Sandbox;
  try {
    sandbox = createSandbox({
      backend: options.sandbox,
      workspace: options.workspace,
      ...(options.docker ? { docker: options.docker } : {}),
    });
  } catch (err) {
    await observability.stop();
    throw err;
  }
  try {
    return await runIn(options, sandbox, observability);
  } finally {
    await sandbox.dispose();
    await observability.stop();
  }
}

async function runIn(
  options: RunCommandOptions,
  sandbox: Sandbox,
  observability: Observability,
): Promise<number> {
  const trust = options.trust ?? "supervised";
  const policy = await runPolicy(options.workspace, options.policyFile);
  const gate = options.gate ?? terminalGateFor(policy, options.workspace, trust);
  const config: HarnessConfig = {
    policy,
    trust,
    model: options.model,
    workspace: options.workspace,
    audit: options.auditDir === false ? false : { dir: options.auditDir },
    ...(options.tools && options.tools.length > 0 ? { tools: [...options.tools] } : {}),
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
    sinks: [...observability.sinks],
  };
  const harness = createHarness(config);
  const session = harness.session();
  const view = options.json ? undefined : new LiveView(process.stdout);

  let stoppedBy: StopSignal | undefined;
  const onSignal = (signal: StopSignal) => {
    if (stoppedBy !== undefined) process.exit(STOP_SIGNALS[signal]);
    stoppedBy = signal;
    process.stderr.write(
      signal === "SIGINT"
        ? "\nrein: interrupted; cancelling the run (press Ctrl-C again to exit at once)\n"
        : `\nrein: ${signal}; cancelling the run (a second signal exits at once)\n`,
    );
    session.cancel(`interrupted (${signal})`);
  };
  const handlers = (Object.keys(STOP_SIGNALS) as StopSignal[]).map((signal) => {
    const handler = () => onSignal(signal);
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  // A closed stdout (e.g. `rein run --json | head`) cancels the run quietly instead of crashing it.
  let stdoutClosed = false;
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_DESTROYED") throw err;
    stdoutClosed = true;
    session.cancel("stdout was closed");
  });
  const file = harness.auditFile(session.id);
  /** The trail as written so far, verified: run_ended and session_ended's JSON lines carry it. */
  const auditNow = (): AuditSummary | undefined => {
    if (!file) return undefined;
    const verified = verifyAuditFile(file, { key: auditKeyFromEnv() });
    if (!verified.ok)
      throw new ReinError(
        "REIN_AUDIT_UNREADABLE",
        `The audit trail ${file} failed verification (${verified.status}): ${verified.reason}`,
      );
    return { file, records: verified.records, headHash: verified.headHash };
  };
  const render = (event: ReinEvent) => {
    if (view) view.handle(event);
    else if (!stdoutClosed) {
      // The audit trail is sealed when run_ended / session_ended reach its sink, before they reach us.
      const audit = event.type === "run_ended" || event.type === "session_ended" ? auditNow() : undefined;
      const line = audit ? { ...event, audit } : event;
      process.stdout.write(`${terminalSafeJson(JSON.stringify(line))}\n`);
    }
  };
  try {
    const stream = session.stream(options.task);
    for await (const event of stream) render(event);
    const result = await stream.result;
    await session.close();
    // Events after the run (session_ended) come from the log: a reader after seq N sees what a live reader saw.
    const scope = { tenantId: session.tenantId, sessionId: session.id };
    for (const event of harness.eventLog.read(scope, result.lastSeq)) render(event);
    const audit = auditNow();
    const budget = harness.ceilings.find((c) => c.account === "run");
    view?.summary(result, audit, budget);
    // Where traces and metrics went, once the last spans were sent.
    await observability.stop();
    printObservabilitySummary(observability);
    if (trust === "autonomous") printAutonomyReport(harness.eventLog.read(scope, 0), policy);
    return stoppedBy !== undefined && result.status === "cancelled"
      ? STOP_SIGNALS[stoppedBy]
      : exitCodeOf(result);
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}
