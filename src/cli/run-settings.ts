import { dirname, resolve } from "node:path";
import { findConfigFile, loadConfig, type ReinConfig } from "../config/config-file.js";
import type { TrustMode } from "../policy/trust-mode.js";
import type { SandboxBackend } from "../sandbox/create-sandbox.js";
import type { Tool } from "../tools/tool.js";
import { chooseModel } from "./choose-model.js";
import { sandboxBackend, trustMode } from "./flags.js";

/** A resolved value and where it came from: `--flag`, `REIN_MODEL`, the config file, or `default`. */
export interface Setting<T> {
  readonly value: T;
  readonly source: string;
}

/** The flags of `rein run` that the config file can also set (undefined: not given on the command line). */
export interface RunFlags {
  readonly config?: string;
  readonly model?: string;
  readonly workspace?: string;
  readonly maxTurns?: number;
  readonly timeout?: number;
  readonly maxCost?: number;
  readonly maxTokens?: number;
  readonly system?: string;
  readonly auditDir?: string;
  /** false for --no-audit. */
  readonly audit?: boolean;
  readonly sandbox?: string;
  readonly unsafeLocalShell?: boolean;
  readonly trust?: string;
}

export interface RunSettings {
  readonly configFile: string | undefined;
  readonly config: ReinConfig | undefined;
  /** Undefined when no model is chosen (`rein config check` says so; `rein run` stops with REIN_MODEL_NOT_CHOSEN). */
  readonly model: Setting<string> | undefined;
  readonly workspace: Setting<string>;
  readonly maxTurns: Setting<number>;
  readonly timeoutMs: Setting<number>;
  readonly maxCostUsd: Setting<number | undefined>;
  readonly maxTokens: Setting<number | undefined>;
  readonly system: Setting<string | undefined>;
  /** The audit directory, or false for none. The CLI keeps its state in `.rein/` of the working directory. */
  readonly audit: Setting<string | false>;
  readonly sandbox: Setting<SandboxBackend>;
  readonly trust: Setting<TrustMode>;
  readonly tools: Setting<readonly Tool[]>;
}

/** `rein run`'s defaults when neither a flag nor the config file sets a value. */
export const RUN_DEFAULTS = { maxTurns: 50, timeoutMs: 30 * 60_000, auditDir: ".rein/audit" } as const;

/**
 * Resolves what `rein run` will use, in order: flag, environment (`REIN_MODEL`), config file, default.
 * Paths in the config file are relative to the file; paths in flags to the working directory.
 */
export async function resolveRunSettings(
  flags: RunFlags,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): Promise<RunSettings> {
  const configFile = flags.config !== undefined ? resolve(cwd, flags.config) : findConfigFile(cwd);
  const config = configFile ? await loadConfig(configFile) : undefined;
  const fileSource = configFile ?? "config";
  const fromFile = (path: string) => resolve(dirname(configFile ?? cwd), path);
  const pick = <T>(flag: T | undefined, flagName: string, file: T | undefined, fallback: T): Setting<T> =>
    flag !== undefined
      ? { value: flag, source: flagName }
      : file !== undefined
        ? { value: file, source: fileSource }
        : { value: fallback, source: "default" };

  let model: Setting<string> | undefined;
  try {
    const choice = chooseModel({ flag: flags.model, env, config, configFile });
    model = { value: choice.spec, source: choice.source };
  } catch (err) {
    if ((err as { code?: string }).code !== "REIN_MODEL_NOT_CHOSEN") throw err;
  }
  const workspace = pick(
    flags.workspace !== undefined ? resolve(cwd, flags.workspace) : undefined,
    "--workspace",
    config?.workspace !== undefined ? fromFile(config.workspace) : undefined,
    cwd,
  );
  const audit: Setting<string | false> =
    flags.audit === false
      ? { value: false, source: "--no-audit" }
      : flags.auditDir !== undefined
        ? { value: resolve(cwd, flags.auditDir), source: "--audit-dir" }
        : config?.audit !== undefined
          ? { value: config.audit === false ? false : fromFile(config.audit.dir), source: fileSource }
          : { value: resolve(cwd, RUN_DEFAULTS.auditDir), source: "default" };
  // --sandbox on the command line wins over the config file's sandbox.backend.
  const sandbox: Setting<SandboxBackend> = flags.unsafeLocalShell
    ? { value: "none", source: "--unsafe-local-shell" }
    : flags.sandbox !== undefined
      ? { value: await sandboxBackend<SandboxBackend>(flags.sandbox), source: "--sandbox" }
      : config?.sandbox?.backend !== undefined
        ? { value: config.sandbox.backend, source: fileSource }
        : { value: "bubblewrap", source: "default" };
  const trust: Setting<TrustMode> =
    flags.trust !== undefined
      ? { value: await trustMode(flags.trust), source: "--trust" }
      : { value: "supervised", source: "default" };
  return {
    configFile,
    config,
    model,
    workspace,
    maxTurns: pick(flags.maxTurns, "--max-turns", config?.limits?.maxTurns, RUN_DEFAULTS.maxTurns),
    timeoutMs: pick(flags.timeout, "--timeout", undefined, RUN_DEFAULTS.timeoutMs),
    maxCostUsd: pick(flags.maxCost, "--max-cost", config?.limits?.maxCostUsd, undefined),
    maxTokens: pick(flags.maxTokens, "--max-tokens", config?.limits?.maxTokens, undefined),
    system: pick(flags.system, "--system", config?.system, undefined),
    audit,
    sandbox,
    trust,
    tools: { value: config?.tools ?? [], source: config?.tools ? fileSource : "default" },
  };
}
