import { createRequire } from "node:module";
import { resolve } from "node:path";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { ReinError } from "../protocol/errors.js";
import { registerApprovalsCommand } from "./approvals-command.js";
import { registerCompletionCommand } from "./completion-command.js";
import { registerConfigCommand } from "./config-command.js";
import { registerDoctorCommand } from "./doctor-command.js";
import { registerEvalCommand } from "./eval-command.js";
import { duration, headHash, positiveInt, positiveNumber, sandboxBackend, threshold } from "./flags.js";
import { registerNetCommand } from "./net-command.js";
import { type Outcome, reportError, reportUsage } from "./outcome.js";
import { registerRunCommand } from "./run-command.js";
import { registerSandboxSweepCommand } from "./sandbox-sweep-command.js";
import { registerSessionsCommand } from "./sessions-command.js";

// Startup stays light: `rein --help` and `rein --version` load commander and the cli/ registration
// files only. Each command's work (models, policy, sandbox, security, …) loads with `await import()`
// in its action; tests/cli/startup.test.ts lists the modules `--help` loads and fails on any other.

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

/** The `rein` program: every command registered, none of their work loaded. */
export function program(): Command {
  const cli = new Command("rein")
    .description("Rein: the controlled runtime between an LLM and real files, shells, networks and money.")
    .version(version, "-v, --version")
    // Usage errors: one line and a hint (see outcome.ts), not the whole help; exit 2.
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => {} })
    .showSuggestionAfterError(true);

  registerRunCommand(cli);

  cli
    .command("demo")
    .description("an agent asked to clean up temp files tries rm -rf and curl | sh, in a throwaway workspace")
    .option("--json", "print events as JSON lines on stdout")
    .option("--keep", "keep the temporary workspace afterwards")
    .option("--audit-dir <dir>", "where the audit trail is written", ".rein/audit")
    .option("--no-audit", "do not write an audit trail")
    .action(async (o) => {
      const { demoCommand } = await import("./demo-command.js");
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
    .action(async (o) => {
      const { modelsCommand } = await import("./models-command.js");
      modelsCommand({ json: Boolean(o.json) });
    });

  const sandbox = cli.command("sandbox").description("run commands in a sandbox");
  sandbox
    .command("exec")
    .description("run one command in a sandbox and exit with its exit status")
    .argument("<command...>", "the command and its arguments (after --)")
    .option(
      "--backend <backend>",
      "bubblewrap (default), docker, gvisor, none (NO isolation), or quickjs, pyodide, wasm (WebAssembly: needs --language)",
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
      const backend = await sandboxBackend<"bubblewrap">(o.backend, "--backend");
      const { sandboxExecCommand } = await import("./sandbox-command.js");
      process.exitCode = await sandboxExecCommand({
        backend,
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

  registerSandboxSweepCommand(sandbox);

  const policy = cli.command("policy").description("inspect and test the policy that classifies tool calls");
  policy
    .command("explain")
    .description("print the decision for a tool call as JSON (level, reason, rule, parsed commands)")
    .option("--tool <name>", "the tool, e.g. run_shell, read_file", "run_shell")
    .option("--input <json>", 'the tool input as JSON, e.g. \'{"command":"rm -rf ./*"}\'')
    .option("--stdin", 'read calls as JSON lines ({"tool":…,"input":…}) and print one decision per line')
    .option("--workspace <dir>", "the workspace (its rein.policy.yaml applies)", ".")
    .option("--policy <file>", "an explicit policy file, layered above the workspace's")
    .action(async (o) => {
      const { policyExplainCommand } = await import("./policy-command.js");
      process.exitCode = await policyExplainCommand(o);
    });
  policy
    .command("test")
    .description("check every example of every rule in the policy files; exits 1 if one fails")
    .option("--workspace <dir>", "the workspace (its rein.policy.yaml is tested)", ".")
    .option("--policy <file>", "an explicit policy file, layered above the workspace's")
    .option("--json", "print each result as a JSON line")
    .action(async (o) => {
      const { policyTestCommand } = await import("./policy-command.js");
      process.exitCode = await policyTestCommand(o);
    });

  cli
    .command("redact")
    .description("redact secrets from stdin to stdout (placeholders stable for the whole input)")
    .option("--json", "print { text, findings, engine } instead of the text")
    .option("--jsonl", "read one JSON string per line; print one { text, findings } per line")
    .option("--no-env", "do not also redact the credentials in this environment (*_API_KEY, *_TOKEN, …)")
    .option(
      "--engine <engine>",
      "linear-time regex engine: auto, re2 or re2js",
      (v: string) => {
        if (!["auto", "re2", "re2js"].includes(v))
          throw new InvalidArgumentError(`--engine must be auto, re2 or re2js, got "${v}".`);
        return v as "auto" | "re2" | "re2js";
      },
      "auto",
    )
    .option("--max-bytes <n>", "refuse more input than this (default 64 MiB)", positiveInt("--max-bytes"))
    .action(async (o) => {
      const { redactCommand } = await import("./redact-command.js");
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
      const { scanInjectionCommand } = await import("./scan-command.js");
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
    .action(async (file: string, o) => {
      const { auditVerifyCommand } = await import("./audit-command.js");
      process.exitCode = auditVerifyCommand(file, { json: Boolean(o.json), head: o.head, keyEnv: o.keyEnv });
    });

  registerSessionsCommand(cli);
  registerApprovalsCommand(cli);
  registerNetCommand(cli);
  registerEvalCommand(cli);
  registerConfigCommand(cli);
  registerDoctorCommand(cli);
  registerCompletionCommand(cli);
  return cli;
}

/**
 * Entry point of the `rein` binary. Exit codes: 0 done, 1 the run or check failed, 2 a usage or
 * configuration error, 3 a run stopped by a limit, 70 an internal error, 129/130/143 a run ended by
 * SIGHUP/SIGINT/SIGTERM. With `--json`, every outcome (errors included) is a JSON line on stdout.
 */
let usageHint: (argv: readonly string[]) => string = () => "rein --help";

/** The words of argv that name a command and its subcommands (`sandbox exec`), for the hint. */
function commandPath(cli: Command, argv: readonly string[]): string {
  const path: string[] = [];
  let at: Command = cli;
  for (const word of argv) {
    if (word.startsWith("-")) break;
    const next = at.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) break;
    path.push(next.name());
    at = next;
  }
  return path.join(" ") || "";
}

export async function main(argv: readonly string[]): Promise<void> {
  const json = argv.includes("--json");
  const outcome = (o: Outcome) => {
    process.exitCode = o.exitCode;
  };
  const cli = program();
  usageHint = (args) => `rein ${commandPath(cli, args)} --help`;
  try {
    await cli.parseAsync([...argv], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      if (err.exitCode === 0 || err.code === "commander.helpDisplayed" || err.code === "commander.version") {
        process.exitCode = 0;
        return;
      }
      outcome(reportUsage(err, json, usageHint(argv)));
      return;
    }
    outcome(
      reportError(
        err,
        json,
        err instanceof ReinError && err.code === "REIN_USAGE" ? usageHint(argv) : undefined,
      ),
    );
  }
}
