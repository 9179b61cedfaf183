import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostSeccompArch } from "../../src/sandbox/bubblewrap/seccomp.js";
import { SYSCALLS } from "../../src/sandbox/bubblewrap/syscalls.js";
import { NOBODY } from "../../src/sandbox/docker/container-spec.js";
import { DockerSandbox } from "../../src/sandbox/docker/docker-sandbox.js";
import { DOCKER_OVERRIDES, GVISOR_OVERRIDES } from "./docker-overrides.js";
import { isAlive, PROBES, type ProbeContext, type ProbeOverride } from "./probes.js";

/**
 * The escape suite against Docker (runc) and Docker under gVisor (runsc), with every limit on and small
 * values. A probe whose attack is stopped by another mechanism there than under bubblewrap runs that
 * backend's override (docker-overrides.ts), which asserts how it is stopped there and says why.
 */
for (const backend of [
  { name: "docker", runtime: undefined, overrides: DOCKER_OVERRIDES },
  { name: "gvisor", runtime: "runsc", overrides: GVISOR_OVERRIDES },
] as const) {
  describe(`escape suite: ${backend.name}`, () => {
    let base: string;
    let ctx: ProbeContext;
    let sandbox: DockerSandbox;
    let server: net.Server;
    let unixServer: net.Server;
    let victim: ReturnType<typeof spawn>;
    const envName = "REIN_ESCAPE_HOST_SECRET";
    const limits = { memoryBytes: 96 * 1024 * 1024, pids: 32, tmpBytes: 4 * 1024 * 1024 };

    beforeAll(async () => {
      base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-escape-")));
      fs.chmodSync(base, 0o755);
      const workspace = path.join(base, "ws");
      fs.mkdirSync(path.join(workspace, "config"), { recursive: true });
      fs.mkdirSync(path.join(workspace, ".ssh"));
      fs.mkdirSync(path.join(workspace, ".rein"));
      fs.writeFileSync(path.join(workspace, ".env"), "API_KEY=host-secret-value\n");
      fs.writeFileSync(path.join(workspace, "config", ".env.production"), "DB_PASSWORD=hunter2\n");
      fs.writeFileSync(path.join(workspace, ".ssh", "id_rsa"), "-----BEGIN OPENSSH PRIVATE KEY-----\n");
      fs.writeFileSync(path.join(workspace, ".rein", "audit.jsonl"), "genuine\n");
      const hostSecretPath = path.join(base, "host-secret.txt");
      fs.writeFileSync(hostSecretPath, "host-only-secret-4711\n", { mode: 0o644 });
      process.env[envName] = "env-secret-value-0815";

      server = net.createServer((s) => s.end("hello from the host\n"));
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const hostSocketPath = path.join(base, "host.sock");
      unixServer = net.createServer((s) => s.end("hello\n"));
      await new Promise<void>((r) => unixServer.listen(hostSocketPath, r));
      fs.chmodSync(hostSocketPath, 0o777);

      sandbox = new DockerSandbox({
        workspace,
        ...(backend.runtime ? { runtime: backend.runtime } : {}),
        memory: limits.memoryBytes,
        pids: limits.pids,
        cpus: 1,
        tmpSize: limits.tmpBytes,
      });
      await sandbox.ready();
      // A host process as the sandbox's own uid (nobody): only the pid namespace keeps signals off it.
      victim =
        process.getuid?.() === 0
          ? spawn(
              "setpriv",
              [`--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, "--clear-groups", "sleep", "600"],
              {
                stdio: "ignore",
              },
            )
          : spawn("sleep", ["600"], { stdio: "ignore" });
      await new Promise((r) => victim.once("spawn", r));
      const arch = hostSeccompArch();
      if (!arch) throw new Error(`no syscall table for ${process.arch}`);
      ctx = {
        sandbox,
        workspace,
        hostSecretPath,
        hostSecretText: "host-only-secret-4711",
        loopbackPort: (server.address() as net.AddressInfo).port,
        hostSocketPath,
        envSecret: { name: envName, value: "env-secret-value-0815" },
        victimPid: victim.pid ?? -1,
        nr: SYSCALLS[arch],
        sandboxUid: sandbox.user.uid,
        limits,
      };
    }, 120_000);

    afterAll(async () => {
      await sandbox?.dispose();
      victim?.kill("SIGKILL");
      server?.close();
      unixServer?.close();
      delete process.env[envName];
      fs.rmSync(base, { recursive: true, force: true });
      // Removing a gVisor container (runsc kill, then delete) took over the default 10 s on a loaded machine.
    }, 60_000);

    it("runs python3 inside (the syscall probes need it; the image has it)", () => {
      expect(sandbox.capabilities.languages).toContain("python");
    });

    it("every override names a probe that exists and says why it differs", () => {
      const ids = new Set(PROBES.map((p) => p.id));
      for (const [id, o] of Object.entries(backend.overrides)) {
        expect(ids.has(id), id).toBe(true);
        expect((o as ProbeOverride).why.length, id).toBeGreaterThan(20);
      }
    });

    for (const probe of PROBES) {
      const override: ProbeOverride | undefined = (backend.overrides as Record<string, ProbeOverride>)[
        probe.id
      ];
      const title = override
        ? `${probe.category}/${probe.id} (${backend.name}: ${override.why})`
        : `${probe.category}/${probe.id}: ${probe.title}`;
      it(title, async () => {
        await (override ? override.run(ctx) : probe.run(ctx));
      }, 90_000);
    }

    it("the victim outlived every probe", () => {
      expect(isAlive(ctx.victimPid)).toBe(true);
    });
  });
}
