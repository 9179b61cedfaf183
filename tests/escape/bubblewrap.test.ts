import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BubblewrapSandbox } from "../../src/sandbox/bubblewrap/bubblewrap-sandbox.js";
import { hostSeccompArch } from "../../src/sandbox/bubblewrap/seccomp.js";
import { SYSCALLS } from "../../src/sandbox/bubblewrap/syscalls.js";
import { isAlive, PROBES, type ProbeContext } from "./probes.js";

/** The escape suite against bubblewrap, with every limit on and small values so the probes end fast. */
describe("escape suite: bubblewrap", () => {
  let base: string;
  let ctx: ProbeContext;
  let sandbox: BubblewrapSandbox;
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

    sandbox = new BubblewrapSandbox({
      workspace,
      memory: limits.memoryBytes,
      pids: limits.pids,
      cpus: 1,
      tmpSize: limits.tmpBytes,
    });
    // A host process as the sandbox's own uid: same uid, so only the pid namespace keeps signals off it.
    victim =
      process.getuid?.() === 0
        ? spawn(
            "setpriv",
            [
              `--reuid=${sandbox.identity.uid}`,
              `--regid=${sandbox.identity.gid}`,
              "--clear-groups",
              "sleep",
              "600",
            ],
            { stdio: "ignore" },
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
      sandboxUid: sandbox.identity.uid,
      limits,
    };
  });

  afterAll(async () => {
    await sandbox?.dispose();
    victim?.kill("SIGKILL");
    server?.close();
    unixServer?.close();
    delete process.env[envName];
    fs.rmSync(base, { recursive: true, force: true });
  });

  it("has at least 55 probes, with unique ids, in every category", () => {
    expect(PROBES.length).toBeGreaterThanOrEqual(55);
    expect(new Set(PROBES.map((p) => p.id)).size).toBe(PROBES.length);
    expect(new Set(PROBES.map((p) => p.category))).toEqual(
      new Set(["filesystem", "privileges", "seccomp", "network", "resources", "environment", "signals"]),
    );
  });

  it("runs python3 inside (the syscall probes need it; scripts/setup-test-env.sh installs it)", () => {
    expect(sandbox.capabilities.languages).toContain("python");
  });

  for (const probe of PROBES) {
    it(`${probe.category}/${probe.id}: ${probe.title}`, async () => {
      await probe.run(ctx);
    }, 90_000);
  }

  it("the victim outlived every probe", () => {
    expect(isAlive(ctx.victimPid)).toBe(true);
  });

  it("an fd leaked into Rein by its parent is closed before the sandbox (rein sandbox exec from a shell holding fd 7 and 12)", () => {
    const bin = path.resolve(import.meta.dirname, "../../bin/rein.js");
    const out = execFileSync(
      "bash",
      [
        "-c",
        `exec 7<${JSON.stringify(ctx.hostSecretPath)}; exec 12<${JSON.stringify(ctx.hostSecretPath)}; ` +
          `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} sandbox exec --workspace ${JSON.stringify(ctx.workspace)} -- sh -c 'ls /proc/self/fd; cat <&7; true'`,
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    expect(out).not.toContain("host-only-secret");
    expect(
      out
        .trim()
        .split("\n")
        .map(Number)
        .filter((fd) => fd > 2).length,
    ).toBeLessThanOrEqual(1);
  });
});
