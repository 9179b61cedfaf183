import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ApprovalGate } from "../approvals/approval-gate.js";
import { durableGate } from "../approvals/durable-gate.js";
import type { ReinConfig } from "../config/config-file.js";
import type { Session } from "../core/session.js";
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
import type { Store } from "../state/store.js";
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
import { openStore, specDir, storeLabel } from "./store-spec.js";
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
  /** Traces, metrics and logs (`--otel`, `--metrics-port`, `--log-level`); none by default. */
  readonly observability?: ObservabilityFlags;
  /** The user's own tools (from a rein.config.ts / .js), registered beside the built-ins. */
  readonly tools?: readonly Tool[];
  /** The store the session is kept in (`--store`: a SQLite file, default .rein/rein.db, or a redis:// URL), or false for memory only. */
  readonly storeFile?: string | false;
  /** `--approvals durable`: HIGH calls become pending approvals and the run ends requires_action. */
  readonly durableApprovals?: boolean;
  /** Continue this session's last run (`rein sessions resume <id>`) instead of starting `task`. */
  readonly resume?: string;
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
  if (result.status === "requires_action") return 4;
  return result.status === "completed"
    ? 0
    : result.status === "failed"
      ? 1
      : result.status === "cancelled"
        ? 130
        : 3;
}

/** What `rein sessions resume` needs to rebuild the run's harness: kept beside the store, per session. */
export interface RunSpec {
  readonly model: string | null;
  readonly workspace: string;
  readonly sandbox: SandboxBackend;
  readonly trust?: TrustMode;
  readonly policyFile?: string;
  readonly system?: string;
  readonly maxTurns?: number;
}

function specFile(storeFile: string, sessionId: string): string {
  return join(specDir(storeFile), `${sessionId}.json`);
}

function writeRunSpec(storeFile: string, sessionId: string, o: RunCommandOptions): void {
  const spec: RunSpec = {
    model: typeof o.model === "string" ? o.model : null,
    workspace: o.workspace,
    sandbox: o.sandbox,
    ...(o.trust ? { trust: o.trust } : {}),
    ...(o.policyFile ? { policyFile: o.policyFile } : {}),
    ...(o.system !== undefined ? { system: o.system } : {}),
    ...(o.maxTurns !== undefined ? { maxTurns: o.maxTurns } : {}),
  };
  mkdirSync(dirname(specFile(storeFile, sessionId)), { recursive: true });
  writeFileSync(specFile(storeFile, sessionId), JSON.stringify(spec));
}

/** The run spec `rein run` kept for the session, if any. */
export function readRunSpec(storeFile: string, sessionId: string): RunSpec | undefined {
  try {
    return JSON.parse(readFileSync(specFile(storeFile, sessionId), "utf8")) as RunSpec;
  } catch {
    return undefined;
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
      ...sandboxFileOptions(options.sandboxConfig),
    });
  } catch (err) {
    await observability.stop();
    throw err;
  }
  let store: Store | undefined;
  try {
    store =
      options.storeFile === false || options.storeFile === undefined
        ? undefined
        : await openStore(options.storeFile);
    return await runIn(options, sandbox, observability, store);
  } finally {
    await sandbox.dispose();
    await store?.close();
    await observability.stop();
  }
}

async function runIn(
  options: RunCommandOptions,
  sandbox: Sandbox,
  observability: Observability,
  store: Store | undefined,
): Promise<number> {
  const trust = options.trust ?? "supervised";
  const policy = await runPolicy(options.workspace, options.policyFile);
  if (options.durableApprovals && !store)
    throw new ReinError(
      "REIN_CONFIG_INVALID",
      "durable approvals (--approvals durable, or approvals.gate: durable in the config file) need a store; drop --no-store or choose --approvals terminal.",
    );
  const gate =
    options.gate ??
    (options.durableApprovals && store
      ? durableGate(store)
      : terminalGateFor(policy, options.workspace, trust));
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
    ...(store ? { store } : {}),
  };
  const harness = createHarness(config);
  const controller = new AbortController();
  // A new session, or none yet when resuming (harness.resume makes it).
  let session: Session | undefined = options.resume === undefined ? harness.session() : undefined;
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
    controller.abort(`interrupted (${signal})`);
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
    controller.abort("stdout was closed");
  });
  // A resumed session after a crash may write a new trail (the old one was left unsealed): not summarised here.
  const file = session ? harness.auditFile(session.id) : undefined;
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
  const print = (line: unknown) => {
    if (!stdoutClosed) process.stdout.write(`${terminalSafeJson(JSON.stringify(line))}\n`);
  };
  // run_ended and session_ended carry the verified trail: they are printed once run() or close()
  // resolved, when the seal is written (the trail writes asynchronously; it may not even be open yet
  // when a run is cancelled at once). Nothing else is printed in between, so the order is kept.
  const held: ReinEvent[] = [];
  const render = (event: ReinEvent) => {
    if (view) view.handle(event);
    else if (event.type === "run_ended" || event.type === "session_ended") held.push(event);
    else print(event);
  };
  const printHeld = () => {
    for (const event of held.splice(0)) {
      const audit = stdoutClosed ? undefined : auditNow();
      print(audit ? { ...event, audit } : event);
    }
  };
  try {
    let result: RunResult;
    if (options.resume !== undefined) {
      if (!options.json) process.stderr.write(`rein: resuming session ${options.resume}\n`);
      const resumed = await harness.resume(options.resume, {
        sinks: [{ name: "cli", handle: render }],
        signal: controller.signal,
      });
      session = resumed.session;
      result = resumed.result;
      printHeld();
      try {
        await session.close();
      } finally {
        printHeld();
      }
    } else {
      const s = session!;
      if (store && options.storeFile) writeRunSpec(options.storeFile, s.id, options);
      // Printed first, so a person can come back to it (`rein sessions resume <id>`) whatever happens.
      // With --json, every event on stdout carries it (stderr stays for errors).
      if (!options.json)
        process.stderr.write(`rein: session ${s.id}${store ? ` (store ${storeLabel(store)})` : ""}\n`);
      const stream = s.stream(options.task, { signal: controller.signal });
      for await (const event of stream) render(event);
      result = await stream.result;
      printHeld();
      const lastSeq = result.lastSeq;
      try {
        await s.close();
      } finally {
        // Events after the run (session_ended) come from the log: a reader after seq N sees what a live reader saw.
        const scope = { tenantId: s.tenantId, sessionId: s.id };
        for (const event of harness.eventLog.read(scope, lastSeq)) render(event);
        printHeld();
      }
    }
    if (session === undefined) throw new Error("unreachable: no session after the run");
    if (result.stopReason.type === "requires_action") {
      const ids = result.stopReason.approvals.join(", ");
      process.stderr.write(
        `rein: waiting for approval ${ids}: decide with "rein approve <id>" or "rein deny <id> --reason …", then "rein sessions resume ${session.id}"\n`,
      );
    }
    const scope = { tenantId: session.tenantId, sessionId: session.id };
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
