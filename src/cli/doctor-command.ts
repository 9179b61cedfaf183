import type { Command } from "commander";

/** `rein doctor`: what Rein needs on this machine, checked without printing a secret. */
export function registerDoctorCommand(cli: Command): void {
  cli
    .command("doctor")
    .description(
      "check this machine: Node version, bubblewrap, Docker, Redis, the config file, which API keys are set (never their values)",
    )
    .option("--config <file>", "the config file to check (default: rein.config.* in the current directory)")
    .option("--json", "print the checks as one JSON line")
    .action(async (o) => {
      const { doctorCommand } = await import("./doctor.js");
      process.exitCode = await doctorCommand({ json: Boolean(o.json), config: o.config });
    });
}
