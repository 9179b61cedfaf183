import type { Command } from "commander";

/**
 * `rein sandbox sweep`: removes what Rein processes that are gone (crashed, SIGKILLed) left behind:
 * their cgroup folders (bubblewrap's limits) and their Docker containers.
 */
export function registerSandboxSweepCommand(sandbox: Command): void {
  sandbox
    .command("sweep")
    .description(
      "remove the cgroup folders and Docker sandbox containers of Rein processes that are gone (crashed or killed); those of running processes stay",
    )
    .option(
      "--socket <path>",
      "the engine's Unix socket (default: DOCKER_HOST, else /var/run/docker.sock); given, an engine that does not answer is an error",
    )
    .option(
      "--json",
      "print { removed: [container ids], kept: n, engine: bool, cgroups: { removed: [folders], kept: n } } as JSON",
    )
    .action(async (o: { socket?: string; json?: boolean }) => {
      // Loaded here, not at registration: `rein --help` loads no subsystem.
      const { sweepCgroupLeftovers } = await import("../sandbox/bubblewrap/limits/cgroup.js");
      const cgroups = sweepCgroupLeftovers();
      const { sweepDockerOrphans } = await import("../sandbox/docker/orphans.js");
      let docker: { removed: readonly string[]; kept: number; engine: boolean };
      try {
        docker = { ...(await sweepDockerOrphans(o.socket ? { socketPath: o.socket } : {})), engine: true };
      } catch (err) {
        // No engine where none was asked for: nothing of Docker to sweep. An engine named by --socket must answer.
        const code = (err as { code?: unknown }).code;
        if (o.socket !== undefined || code !== "REIN_SANDBOX_ENGINE_UNAVAILABLE") throw err;
        docker = { removed: [], kept: 0, engine: false };
      }
      if (o.json) process.stdout.write(`${JSON.stringify({ ...docker, cgroups })}\n`);
      else {
        for (const dir of cgroups.removed) process.stdout.write(`removed cgroup ${dir}\n`);
        process.stdout.write(
          `cgroups: ${cgroups.removed.length} removed, ${cgroups.kept} kept (their process runs, or they still hold one)\n`,
        );
        for (const id of docker.removed) process.stdout.write(`removed container ${id.slice(0, 12)}\n`);
        process.stdout.write(
          docker.engine
            ? `containers: ${docker.removed.length} removed, ${docker.kept} kept (their owner runs)\n`
            : "containers: no Docker engine answers, none to sweep\n",
        );
      }
    });
}
