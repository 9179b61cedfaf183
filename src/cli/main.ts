import { createRequire } from "node:module";
import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { findConfigFile, loadConfigFile } from "../config/config-file.js";
import { resolveModel } from "../models/resolve-model.js";
import { parseTrustMode, type TrustMode } from "../policy/trust-mode.js";
import { ReinError } from "../protocol/errors.js";
import { SANDBOX_BACKENDS, type SandboxBackend } from "../sandbox/create-sandbox.js";
import { auditVerifyCommand } from "./audit-command.js";
import { chooseModel } from "./choose-model.js";
import { demoCommand } from "./demo-command.js";
import { parseDuration } from "./duration.js";
import { executeRun } from "./execute-run.js";
import { modelsCommand } from "./models-command.js";
import { registerNetCommand } from "./net-command.js";
import { registerPolicyCommand } from "./policy-command.js";
import { redactCommand } from "./redact-command.js";
import { sandboxExecCommand } from "./sandbox-command.js";
import { scanInjectionCommand } from "./scan-command.js";
import { terminalSafeText } from "./terminal-text.js";

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

function positiveInt(flag: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new InvalidArgumentError(`${flag} must be a positive integer, got "${value}".`);
    return n;
  };
}

function backend(value: string): SandboxBackend {
  if (!(SANDBOX_BACKENDS as readonly string[]).includes(value))
    throw new InvalidArgumentError(
      `"${value}" is not a sandbox; use one of: ${SANDBOX_BACKENDS.join(", ")}.`,
    );
  return value as SandboxBackend;
}

function positiveNumber(flag: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${flag} must be a positive number, got "${value}".`);
    return n;
  };
}

function usd(value: string): number {
  const n = Number(value.replace(/^\$/, ""));
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(
      `--max-cost must be a positive amount of USD (e.g. 0.50), got "${value}".`,
    );
  return n;
}

function tokenCount(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(value.trim());
  const n = m ? Number(m[1]) * (m[2] === "" ? 1 : /k/i.test(m[2]!) ? 1_000 : 1_000_000) : Number.NaN;
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(
      `--max-tokens must be a positive whole number of tokens (e.g. 200000, 200k or 1.5m), got "${value}".`,
    );
  return n;
}

function stallWindow(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 2 || n > 64)
    throw new InvalidArgumentError(`--stall-window must be an integer from 2 to 64, got "${value}".`);
  return n;
}

function trustMode(value: string): TrustMode {
  const mode = parseTrustMode(value);
  if (!mode)
    throw new InvalidArgumentError(
      `--trust must be supervised, semi, autonomous or read-only, got "${value}".`,
    );
  return mode;
}

function threshold(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1))
    throw new InvalidArgumentError(`--threshold must be a number in (0, 1], got "${value}".`);
  return n;
}

function duration(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new InvalidArgumentError(
      `"${value}" is not a duration (examples: 90s, 5m, 1h, 500ms; a bare number is seconds).`,
    );
  return ms;
}

function headHash(value: string): string {
  if (!/^[0-9a-f]{64}$/.test(value))
    throw new InvalidArgumentError(`--head must be a 64-digit lowercase hex hash, got "${value}".`);
  return value;
}

function program(): Command {
  const cli = new Command("rein")
    .description("Rein: the controlled runtime between an LLM and real files, shells, networks and money.")
    .version(version, "-v, --version")
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  cli
    .command("run")
    .description("run an agent on a task")
    .argument("<task>", "what the agent should do")
    .option(
      "--model <model>",
      "anthropic:<model>, openai:<model>, openai-compatible:<model> or scripted:<script> (default: REIN_MODEL, then rein.config.yaml, then a provider whose key is set)",
    )
    .option("--base-url <url>", "the model provider's base URL (e.g. an OpenAI-compatible server's)")
    .option("--config <file>", "the project config file (default: rein.config.yaml in the current directory)")
    .option("--workspace <dir>", "the directory the agent's file tools work in", ".")
    .option("--max-turns <n>", "model calls allowed in the run (default 50)", positiveInt("--max-turns"))
    .option("--timeout <duration>", "wall-clock limit of the run, e.g. 90s or 10m (default 30m)", duration)
    .option("--system <prompt>", "system prompt")
    .option("--max-cost <usd>", "USD ceiling of the run, enforced before each model call (e.g. 0.50)", usd)
    .option("--max-tokens <n>", "token ceiling of the run (input + output), e.g. 200k", tokenCount)
    .option(
      "--stall-window <n>",
      "calls that make a loop: warn when the last N calls repeat one cycle, then stop (default 6)",
      stallWindow,
    )
    .option("--json", "print events as JSON lines on stdout instead of the live view")
    .option("--audit-dir <dir>", "where audit trails are written", ".rein/audit")
    .option("--no-audit", "do not write an audit trail")
    .option(
      "--sandbox <backend>",
      "where run_shell and run_code run: bubblewrap (default; or the config file's sandbox.backend), none (NO isolation, prints a warning), quickjs, pyodide or wasm (WebAssembly: run_code only)",
      backend,
    )
    .option(
      "--trust <mode>",
      "supervised (HIGH asks in the terminal, else denied), semi (asks, denies after --approval-timeout), autonomous (all but BLOCK runs; report after), read-only (no write/exec tools)",
      trustMode,
      "supervised",
    )
    .option(
      "--approval-timeout <duration>",
      "how long an approval waits (semi: then denied; default 10m)",
      duration,
    )
    .option("--policy <file>", "a policy file layered above the workspace's rein.policy.yaml")
    .option("--unsafe-local-shell", "the same as --sandbox none (kept for compatibility)")
    .action(async (task: string, o) => {
      const configFile = o.config ? resolve(o.config) : findConfigFile(process.cwd());
      const config = configFile ? loadConfigFile(configFile) : undefined;
      const choice = chooseModel({ flag: o.model, env: process.env, config, configFile });
      const model = choice.spec.startsWith("scripted:")
        ? choice.spec
        : resolveModel(choice.spec, {
            ...(config
              ? { providers: config.providers, fallback: config.fallback, gateway: config.gateway }
              : {}),
            ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}),
          });
      if (!o.json)
        process.stderr.write(
          `rein: model ${terminalSafeText(choice.spec)} (from ${terminalSafeText(choice.source)})\n`,
        );
      process.exitCode = await executeRun({
        task,
        model,
        workspace: resolve(o.workspace),
        maxTurns: o.maxTurns ?? config?.limits?.maxTurns,
        timeoutMs: o.timeout,
        maxCostUsd: o.maxCost ?? config?.limits?.maxCostUsd,
        maxTokens: o.maxTokens ?? config?.limits?.maxTokens,
        stallWindow: o.stallWindow,
        ...(config?.guards ? { guards: config.guards } : {}),
        system: o.system,
        json: Boolean(o.json),
        auditDir: o.audit === false ? false : resolve(o.auditDir),
        sandbox: o.unsafeLocalShell ? "none" : (o.sandbox ?? config?.sandbox?.backend ?? "bubblewrap"),
        ...(config?.sandbox ? { sandboxConfig: config.sandbox } : {}),
        trust: o.trust,
        ...(o.policy !== undefined ? { policyFile: o.policy } : {}),
        ...(o.approvalTimeout !== undefined ? { approvalTimeoutMs: o.approvalTimeout } : {}),
      });
    });

  cli
    .command("demo")
    .description("an agent asked to clean up temp files tries rm -rf and curl | sh, in a throwaway workspace")
    .option("--json", "print events as JSON lines on stdout")
    .option("--keep", "keep the temporary workspace afterwards")
    .option("--audit-dir <dir>", "where the audit trail is written", ".rein/audit")
    .option("--no-audit", "do not write an audit trail")
    .action(async (o) => {
      process.exitCode = await demoCommand({
        json: Boolean(o.json),
        keep: Boolean(o.keep),
        auditDir: o.audit === false ? false : resolve(o.auditDir),
      });
    });

  cli
    .command("models")
    .description("list known models and their prices, and which providers have a key set")
    .option("--json", "print the listing as JSON")
    .action((o) => {
      modelsCommand({ json: Boolean(o.json) });
    });

  const sandbox = cli.command("sandbox").description("run commands in a sandbox");
  sandbox
    .command("exec")
    .description("run one command in a sandbox and exit with its exit status")
    .argument("<command...>", "the command and its arguments (after --)")
    .option(
      "--backend <backend>",
      "bubblewrap (default), none (NO isolation), or quickjs, pyodide, wasm (WebAssembly: needs --language)",
      backend,
      "bubblewrap",
    )
    .option(
      "--language <language>",
      "run the arguments as a program in python, javascript or shell (runCode) instead of as a command; - reads it from stdin",
    )
    .option("--workspace <dir>", "the directory mounted read-write (default: the current one)", ".")
    .option("--memory <size>", "memory limit of the command's process tree, e.g. 256m (default 512m)")
    .option("--pids <n>", "most processes and threads (default 256)", positiveInt("--pids"))
    .option("--cpus <n>", "CPU bandwidth in cores (default 1)", positiveNumber("--cpus"))
    .option("--tmp-size <size>", "size of /tmp (default 64m)")
    .option("--timeout <duration>", "wall-clock limit, e.g. 10s (default 10m)", duration)
    .option("--network <mode>", "none (default) or proxy:<unix socket of the egress proxy>", "none")
    .option("--json", "print the result record as JSON instead of the command's output")
    .action(async (argv: string[], o) => {
      process.exitCode = await sandboxExecCommand({
        backend: o.backend,
        workspace: resolve(o.workspace),
        memory: o.memory,
        pids: o.pids,
        cpus: o.cpus,
        tmpSize: o.tmpSize,
        timeoutMs: o.timeout,
        network: o.network,
        json: Boolean(o.json),
        argv,
        ...(o.language !== undefined ? { language: o.language } : {}),
      });
    });
  registerPolicyCommand(cli);
  registerNetCommand(cli);

  cli
    .command("redact")
    .description("redact secrets from stdin to stdout (placeholders stable for the whole input)")
    .option("--json", "print { text, findings, engine } instead of the text")
    .option("--jsonl", "read one JSON string per line; print one { text, findings } per line")
    .option("--no-env", "do not also redact the credentials in this environment (*_API_KEY, *_TOKEN, …)")
    .option("--engine <engine>", "linear-time regex engine: auto, re2 or re2js", "auto")
    .option("--max-bytes <n>", "refuse more input than this (default 64 MiB)", positiveInt("--max-bytes"))
    .action(async (o) => {
      if (!["auto", "re2", "re2js"].includes(o.engine))
        throw new InvalidArgumentError(`--engine must be auto, re2 or re2js, got "${o.engine}".`);
      process.exitCode = await redactCommand({
        json: Boolean(o.json),
        jsonl: Boolean(o.jsonl),
        env: o.env !== false,
        engine: o.engine,
        maxBytes: o.maxBytes ?? 64 * 1024 * 1024,
      });
    });

  const scan = cli.command("scan").description("scan text for threats");
  scan
    .command("injection")
    .description("judge stdin for prompt injection: a JSON verdict with evidence; exits 1 if flagged")
    .option("--jsonl", "read one JSON string per line; print one verdict per line")
    .option("--threshold <score>", "flag at or above this score (default 0.5)", threshold)
    .option("--max-bytes <n>", "refuse more input than this (default 16 MiB)", positiveInt("--max-bytes"))
    .action(async (o) => {
      process.exitCode = await scanInjectionCommand({
        jsonl: Boolean(o.jsonl),
        threshold: o.threshold,
        maxBytes: o.maxBytes ?? 16 * 1024 * 1024,
      });
    });

  const audit = cli.command("audit").description("work with audit trails");
  audit
    .command("verify")
    .description(
      "check an audit trail: hash chain, exact bytes, seals (and its HMAC with a key); exits 1 unless it is intact and sealed",
    )
    .argument("<file>", "an audit trail (.jsonl)")
    .option("--json", "print the verdict as JSON")
    .option(
      "--head <hash>",
      "the head hash kept elsewhere (rein run prints it); the trail must end there",
      headHash,
    )
    .option(
      "--key-env <var>",
      "environment variable holding the trail's HMAC key (default: REIN_AUDIT_KEY when set)",
    )
    .action((file: string, o) => {
      process.exitCode = auditVerifyCommand(file, { json: Boolean(o.json), head: o.head, keyEnv: o.keyEnv });
    });
  return cli;
}

/** Entry point of the `rein` binary. */
export async function main(argv: readonly string[]): Promise<void> {
  try {
    await program().parseAsync([...argv], { from: "user" });
  } catch (err) {
    if (err instanceof ReinError) {
      // Messages quote user and model input (script fields, tool names): print them inert.
      process.stderr.write(`rein: ${terminalSafeText(err.message)}\nrein: error code ${err.code}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`rein: internal error: ${terminalSafeText((err as Error)?.stack ?? String(err))}\n`);
    process.exitCode = 70;
  }
}
