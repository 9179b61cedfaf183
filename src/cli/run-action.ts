import { dirname, resolve } from "node:path";
import type { ReinConfig } from "../config/config-file.js";
import { resolveModel } from "../models/resolve-model.js";
import { executeRun } from "./execute-run.js";
import type { ObservabilityFlags } from "./observability-flags.js";
import { type RunFlags, resolveRunSettings } from "./run-settings.js";
import { storeSpec } from "./store-spec.js";
import { terminalSafeText } from "./terminal-text.js";

export interface RunCommandFlags extends RunFlags {
  readonly baseUrl?: string;
  readonly json?: boolean;
  readonly stallWindow?: number;
  readonly approvalTimeout?: number;
  readonly policy?: string;
  /** `--store <file|url>` (a file absolute) or false for `--no-store`; undefined: the config file's, else .rein/rein.db. */
  readonly store?: string | false;
  /** `--approvals terminal|durable` (undefined: not given; the config file's `approvals.gate`, then terminal). */
  readonly approvals?: "terminal" | "durable";
  /** `--otel`, `--metrics-port`, `--log-level` (observability-flags.ts). */
  readonly observability?: ObservabilityFlags;
}

/** What `rein run` does once its flags parsed: resolve the settings, say where state goes, run. */
export async function runCommand(task: string, o: RunCommandFlags): Promise<number> {
  const s = await resolveRunSettings(o, process.env, process.cwd());
  const { configFile, config } = s;
  if (!s.model) {
    // The same error, with every option named, as before the config file existed.
    const { chooseModel } = await import("./choose-model.js");
    chooseModel({ flag: undefined, env: process.env, config, configFile });
  }
  const spec = s.model!.value;
  const model = spec.startsWith("scripted:")
    ? spec
    : resolveModel(spec, {
        ...(config
          ? { providers: config.providers, fallback: config.fallback, gateway: config.gateway }
          : {}),
        ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}),
      });
  if (!o.json) {
    process.stderr.write(
      `rein: model ${terminalSafeText(spec)} (from ${terminalSafeText(s.model!.source)})\n`,
    );
    if (configFile) process.stderr.write(`rein: config ${terminalSafeText(configFile)}\n`);
    process.stderr.write(
      s.audit.value === false
        ? "rein: no audit trail (--no-audit)\n"
        : `rein: audit trail in ${terminalSafeText(s.audit.value)} (the CLI keeps its state in .rein/ of the working directory)\n`,
    );
  }
  return executeRun({
    task,
    model,
    workspace: s.workspace.value,
    maxTurns: s.maxTurns.value,
    timeoutMs: s.timeoutMs.value,
    maxCostUsd: s.maxCostUsd.value,
    maxTokens: s.maxTokens.value,
    stallWindow: o.stallWindow,
    ...(config?.guards ? { guards: config.guards } : {}),
    system: s.system.value,
    json: Boolean(o.json),
    auditDir: s.audit.value,
    sandbox: s.sandbox.value,
    ...(config?.sandbox?.docker ? { docker: config.sandbox.docker } : {}),
    ...(config?.sandbox ? { sandboxConfig: config.sandbox } : {}),
    trust: s.trust.value,
    tools: s.tools.value,
    ...(o.policy !== undefined ? { policyFile: o.policy } : {}),
    ...(o.approvalTimeout !== undefined ? { approvalTimeoutMs: o.approvalTimeout } : {}),
    ...(o.observability ? { observability: o.observability } : {}),
    storeFile: o.store ?? configStore(configFile, config) ?? resolve(".rein/rein.db"),
    ...((o.approvals ?? config?.approvals?.gate) === "durable" ? { durableApprovals: true } : {}),
  });
}

/** The config file's `store:` (a file relative to the config file, or a redis:// URL). */
function configStore(configFile: string | undefined, config: ReinConfig | undefined): string | undefined {
  if (!config?.store || !configFile) return undefined;
  return storeSpec(config.store, dirname(configFile), `${configFile}: store`);
}
