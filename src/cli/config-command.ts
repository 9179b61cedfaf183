import type { Command } from "commander";
import { duration, positiveInt, tokenCount, usd } from "./flags.js";

/** `rein config check`: validate the config file and print what `rein run` would use, with sources. */
export function registerConfigCommand(cli: Command): void {
  const config = cli
    .command("config")
    .description("the project configuration (rein.config.ts, .js or .yaml)");
  config
    .command("check")
    .description(
      "validate the config file and print the resolved settings of `rein run`, each with its source (flag, env, file, default)",
    )
    .option(
      "--config <file>",
      "the config file (default: rein.config.ts, .js, .yaml in the current directory)",
    )
    .option("--model <model>", "as in rein run")
    .option("--workspace <dir>", "as in rein run")
    .option("--max-turns <n>", "as in rein run", positiveInt("--max-turns"))
    .option("--timeout <duration>", "as in rein run", duration)
    .option("--max-cost <usd>", "as in rein run", usd)
    .option("--max-tokens <n>", "as in rein run", tokenCount)
    .option("--audit-dir <dir>", "as in rein run")
    .option("--no-audit", "as in rein run")
    .option("--sandbox <backend>", "as in rein run")
    .option("--trust <mode>", "as in rein run")
    .option("--json", "print the resolved settings as one JSON line")
    .action(async (o, command: Command) => {
      const { configCheckCommand } = await import("./config-check.js");
      const audit = command.getOptionValueSource("audit") === "cli" ? o.audit : undefined;
      process.exitCode = await configCheckCommand({ ...o, audit });
    });
}
