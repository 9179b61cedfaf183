import { type Command, InvalidArgumentError } from "commander";
import { UsageError } from "../protocol/errors.js";
import { duration, positiveInt, stallWindow, tokenCount, usd } from "./flags.js";
import { addObservabilityOptions, observabilityFlags } from "./observability-flags.js";
import { storeSpec } from "./store-spec.js";

/** `--approvals <gate>`: terminal or durable. */
export function approvalsGate(value: string): "terminal" | "durable" {
  if (value !== "terminal" && value !== "durable")
    throw new InvalidArgumentError(`--approvals must be terminal or durable, got "${value}".`);
  return value;
}

/** `rein run <task>`: registered here, its work (config, model, harness) loaded when it runs. */
export function registerRunCommand(cli: Command): void {
  const run = cli
    .command("run")
    .description("run an agent on a task")
    .argument("<task>", "what the agent should do")
    .option(
      "--model <model>",
      "anthropic:<model>, openai:<model>, openai-compatible:<model> or scripted:<script> (default: REIN_MODEL, then the config file, then a provider whose key is set)",
    )
    .option("--base-url <url>", "the model provider's base URL (e.g. an OpenAI-compatible server's)")
    .option(
      "--config <file>",
      "the project config file (default: rein.config.ts, .js, .yaml in the current directory)",
    )
    .option("--workspace <dir>", "the directory the agent's file tools work in (default: the current one)")
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
    .option("--audit-dir <dir>", "where audit trails are written (default: .rein/audit)")
    .option("--no-audit", "do not write an audit trail")
    .option(
      "--sandbox <backend>",
      "where run_shell and run_code run: bubblewrap (default; or the config file's sandbox.backend), docker, gvisor, none (NO isolation, prints a warning), quickjs, pyodide or wasm (WebAssembly: run_code only)",
    )
    .option(
      "--trust <mode>",
      "supervised (default: HIGH asks in the terminal, else denied), semi (asks, denies after --approval-timeout), autonomous (all but BLOCK runs; report after), read-only (no write/exec tools)",
    )
    .option(
      "--approval-timeout <duration>",
      "how long an approval waits (semi: then denied; default 10m)",
      duration,
    )
    .option("--policy <file>", "a policy file layered above the workspace's rein.policy.yaml")
    .option("--unsafe-local-shell", "the same as --sandbox none (kept for compatibility)")
    .option(
      "--store <file|url>",
      "the store the session is kept in: a SQLite file (default .rein/rein.db, or the config file's store) or a redis:// URL; resume it from there",
    )
    .option("--no-store", "keep the session in memory only (it cannot be resumed)")
    .option(
      "--approvals <gate>",
      "terminal (default) or durable: HIGH calls wait as pending approvals decided with rein approve / rein deny",
      approvalsGate,
    )
    .action(async (task: string, o, command: Command) => {
      if (task.trim() === "") throw new UsageError("the task is empty: say what the agent should do.");
      const { runCommand } = await import("./run-action.js");
      // --no-audit sets audit=false; its implicit default (true) is not "given".
      const audit = command.getOptionValueSource("audit") === "cli" ? o.audit : undefined;
      // Undefined: the config file's store, else .rein/rein.db (run-action.ts).
      const store =
        o.store === false
          ? false
          : typeof o.store === "string"
            ? storeSpec(o.store, process.cwd())
            : undefined;
      process.exitCode = await runCommand(task, {
        ...o,
        audit,
        store,
        ...(o.approvals !== undefined ? { approvals: o.approvals } : {}),
        observability: observabilityFlags(o),
      });
    });
  addObservabilityOptions(run);
}
