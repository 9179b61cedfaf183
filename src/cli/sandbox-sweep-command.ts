import type { Command } from "commander";

/** `rein sandbox sweep`: removes the Docker containers of Rein processes that are gone. */
export function registerSandboxSweepCommand(sandbox: Command): void {
  sandbox
    .command("sweep")
    .description(
      "remove Docker sandbox containers whose Rein process is gone (crashed or killed); ones of running processes stay",
    )
    .option("--socket <path>", "the engine's Unix socket (default: DOCKER_HOST, else /var/run/docker.sock)")
    .option("--json", "print { removed: [ids], kept: n } as JSON")
    .action(async (o: { socket?: string; json?: boolean }) => {
      // Loaded here, not at registration: `rein --help` loads no subsystem.
      const { sweepDockerOrphans } = await import("../sandbox/docker/orphans.js");
      const r = await sweepDockerOrphans(o.socket ? { socketPath: o.socket } : {});
      if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else {
        for (const id of r.removed) process.stdout.write(`removed ${id.slice(0, 12)}\n`);
        process.stdout.write(`${r.removed.length} removed, ${r.kept} kept (their owner runs)\n`);
      }
    });
}
