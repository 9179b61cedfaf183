import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { sensitiveMaskPatterns } from "../../../src/protocol/sensitive-paths.js";
import { bwrapArgs } from "../../../src/sandbox/bubblewrap/args.js";
import { BubblewrapSandbox } from "../../../src/sandbox/bubblewrap/bubblewrap-sandbox.js";
import { SANDBOX_ID_BASE } from "../../../src/sandbox/bubblewrap/identity.js";
import { detectCgroupHost } from "../../../src/sandbox/bubblewrap/limits/cgroup.js";
import { DEFAULT_MASK_PATHS } from "../../../src/sandbox/bubblewrap/masks.js";
import { createSandbox } from "../../../src/sandbox/create-sandbox.js";

const isRoot = process.getuid?.() === 0;
const made: string[] = [];
const sandboxes: BubblewrapSandbox[] = [];
const tempDir = (mode = 0o755) => {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-bwrap-test-")));
  fs.chmodSync(d, mode);
  made.push(d);
  return d;
};
const sandbox = (o: ConstructorParameters<typeof BubblewrapSandbox>[0]) => {
  const s = new BubblewrapSandbox(o);
  sandboxes.push(s);
  return s;
};

afterEach(async () => {
  for (const s of sandboxes.splice(0)) await s.dispose();
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("BubblewrapSandbox", () => {
  it("a missing bwrap is a SandboxError with the install command, never a fallback", () => {
    expect(() => new BubblewrapSandbox({ bwrapPath: "/nonexistent/bwrap" })).toThrow(
      expect.objectContaining({
        code: "REIN_SANDBOX_FAILED",
        message: expect.stringContaining("apt-get install -y bubblewrap"),
      }),
    );
    expect(() => createSandbox({ backend: "bubblewrap", bwrapPath: "/nonexistent/bwrap" })).toThrow(
      /bubblewrap/,
    );
  });

  it("capabilities.limits on this host: cgroup controllers Rein can write, else rlimits", () => {
    const s = sandbox({});
    const host = detectCgroupHost();
    const expected = host
      ? ["time", "output", "disk", ...(["memory", "pids", "cpu"] as const).filter((c) => host.parents[c])]
      : ["time", "output", "disk", "memory", "pids"];
    expect(s.capabilities.limits).toEqual(expected);
    expect(sandbox({ limitsVia: "rlimit" }).capabilities.limits).toEqual([
      "time",
      "output",
      "disk",
      "memory",
      "pids",
    ]);
    if (isRoot) expect(host?.parents.memory).toBeDefined(); // root on these hosts may create cgroups
  });

  it("limitsVia 'cgroup' where no cgroup can be made is an error, not a silent downgrade", () => {
    if (detectCgroupHost())
      return expect(sandbox({ limitsVia: "cgroup" }).capabilities.limits).toContain("memory");
    expect(() => new BubblewrapSandbox({ limitsVia: "cgroup" })).toThrow(/cannot create cgroups/);
  });

  it("as root, it never runs as uid 0: the workspace's owner, else a fresh id per sandbox; a root user is refused", () => {
    const ws = tempDir();
    const s = sandbox({ workspace: ws });
    expect(s.identity.uid).not.toBe(0);
    expect(s.identity.gid).not.toBe(0);
    if (!isRoot) return expect(s.identity.uid).toBe(process.getuid?.());
    expect(s.identity).toMatchObject({ dropFromRoot: true });
    expect(s.identity.uid).toBeGreaterThanOrEqual(SANDBOX_ID_BASE);
    expect(s.identity.gid).toBe(s.identity.uid);
    // Two sandboxes never share an id: one's processes never count against the other's RLIMIT_NPROC.
    expect(sandbox({ workspace: tempDir() }).identity.uid).not.toBe(s.identity.uid);
    fs.chownSync(ws, 1234, 1234);
    expect(sandbox({ workspace: ws }).identity).toMatchObject({ uid: 1234, gid: 1234 });
    expect(() => new BubblewrapSandbox({ workspace: ws, user: { uid: 0, gid: 0 } })).toThrow(
      /must not be root/,
    );
  });

  it("as root, refuses to hand a system or home folder to the sandbox user", () => {
    if (!isRoot) return;
    for (const ws of ["/", "/root", "/tmp", "/usr"])
      expect(() => new BubblewrapSandbox({ workspace: ws })).toThrow(/Refusing/);
  });

  it("hands files the host created as root to the sandbox user before each command", async () => {
    const ws = tempDir();
    const s = sandbox({ workspace: ws });
    fs.mkdirSync(path.join(ws, "made-by-root"));
    fs.writeFileSync(path.join(ws, "made-by-root", "f.txt"), "x");
    const r = await s.exec(
      "echo more >> made-by-root/f.txt && echo new > made-by-root/g.txt && cat made-by-root/f.txt",
    );
    expect(r.stdout).toBe("xmore\n");
  });

  it("works for a workspace under a folder the sandbox user cannot traverse (private staging mount)", async () => {
    if (!isRoot) return;
    const outer = tempDir(0o700);
    const ws = path.join(outer, "project");
    fs.mkdirSync(ws);
    const s = sandbox({ workspace: ws });
    expect(s.identity.privateMount).toBe(true);
    const r = await s.exec("echo ok > f && cat f && pwd");
    expect(r.stdout).toBe(`ok\n${ws}\n`);
    // The staging mount lived in the launcher's private namespace: nothing is left mounted on the host.
    expect(fs.readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(ws);
  });

  it("masks the defaults and the caller's maskPaths (globs, and absolute paths inside the workspace)", async () => {
    const ws = tempDir();
    for (const f of [".env.local", "secrets/prod.txt", "keep.txt", "deploy/id_ed25519"]) {
      fs.mkdirSync(path.dirname(path.join(ws, f)), { recursive: true });
      fs.writeFileSync(path.join(ws, f), "SECRET\n");
    }
    const s = sandbox({
      workspace: ws,
      maskPaths: [...DEFAULT_MASK_PATHS, "secrets/*.txt", path.join(ws, "keep2.txt")],
    });
    fs.writeFileSync(path.join(ws, "keep2.txt"), "SECRET\n");
    const r = await s.exec(
      "cat .env.local secrets/prod.txt deploy/id_ed25519 keep2.txt; echo --; cat keep.txt",
    );
    expect(r.stdout).toBe("--\nSECRET\n");
    const none = sandbox({ workspace: ws, maskPaths: [] });
    expect((await none.exec("cat .env.local")).stdout).toBe("SECRET\n");
  });

  it("by default hides every path the policy treats as sensitive (one list: the library's sandboxes, not only the CLI's)", async () => {
    expect(DEFAULT_MASK_PATHS).toEqual(expect.arrayContaining(sensitiveMaskPatterns()));
    const ws = tempDir();
    // Sensitive to the policy, and not in the sandbox's own list before the two were one.
    const files = [".vault-token", ".config/gh/hosts.yml", "keys/id_dsa", ".git/hooks/pre-commit"];
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(ws, f)), { recursive: true });
      fs.writeFileSync(path.join(ws, f), "SECRET\n");
    }
    fs.writeFileSync(path.join(ws, "readme.txt"), "visible\n");
    const r = await sandbox({ workspace: ws }).exec(`cat ${files.join(" ")} 2>/dev/null; cat readme.txt`);
    expect(r.stdout).toBe("visible\n");
  });

  it("bad options are SandboxErrors that name the option", () => {
    expect(() => new BubblewrapSandbox({ memory: "lots" })).toThrow(/memory must be a positive size/);
    expect(() => new BubblewrapSandbox({ pids: 0 })).toThrow(/pids must be a positive integer/);
    expect(() => new BubblewrapSandbox({ cpus: -1 })).toThrow(/cpus must be a positive number/);
    expect(() => new BubblewrapSandbox({ network: { proxySocket: "/nonexistent.sock" } })).toThrow(
      /egress proxy socket/,
    );
  });

  it("network proxy hook: the egress proxy's Unix socket is the one way out (AF_UNIX allowed to it only)", async () => {
    const dir = tempDir();
    const sock = path.join(dir, "egress.sock");
    const server = net.createServer((c) => c.end("proxy says hi\n"));
    await new Promise<void>((r) => server.listen(sock, r));
    fs.chmodSync(sock, 0o777);
    try {
      const s = sandbox({ workspace: tempDir(), network: { proxySocket: sock } });
      expect(s.capabilities.network[0]).toBe("proxy");
      const r = await s.runCode(
        "python",
        'import os, socket\ns = socket.socket(socket.AF_UNIX)\ns.connect(os.environ["REIN_EGRESS_PROXY"][5:])\nprint(s.recv(100).decode(), end="")',
      );
      expect(r.stdout).toBe("proxy says hi\n");
      const net2 = await s.exec("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
      expect(net2.stdout.trim()).toBe("lo");
    } finally {
      server.close();
    }
  });

  it("removes each command's cgroup after it ends", async () => {
    const host = detectCgroupHost();
    if (!host) return;
    const s = sandbox({ workspace: tempDir() });
    await s.exec("true");
    await s.dispose();
    for (const parent of new Set(Object.values(host.parents)))
      expect(fs.readdirSync(parent).filter((d) => d.startsWith("cmd-"))).toEqual([]);
  });

  it("bubblewrap arguments: allowlisted binds, never --ro-bind / /, every namespace, caps dropped, env cleared", () => {
    const args = bwrapArgs({
      workspace: "/w",
      workspaceSource: "/w",
      cwd: "/w",
      uid: 1000,
      gid: 1000,
      env: { PATH: "/usr/bin" },
      tmpBytes: 1024,
      masks: [{ path: "/w/.env", kind: "file" }],
      seccompFd: 3,
      statusFd: 4,
      etcDir: "/s/etc",
      emptyFile: "/s/empty",
      argv: ["true"],
    });
    const joined = args.join(" ");
    expect(joined).not.toMatch(/--(ro-)?bind \/ \//);
    for (const flag of [
      "--unshare-all",
      "--unshare-user",
      "--die-with-parent",
      "--new-session",
      "--clearenv",
    ])
      expect(args).toContain(flag);
    expect(joined).toContain("--cap-drop ALL");
    expect(joined).toContain("--size 1024 --perms 1777 --tmpfs /tmp");
    expect(joined).toContain("--ro-bind /s/empty /w/.env");
    expect(joined).toContain("--seccomp 3");
    expect(joined).toContain("--ro-bind /s/etc /etc");
    expect(joined).toContain("--remount-ro /");
    expect(joined).not.toContain("/etc/shadow");
    expect(joined).not.toMatch(/\/(home|root|run|var\/run|sys)\b(?! )/);
  });
});

describe("BubblewrapSandbox cgroup reuse", () => {
  it("an OOM kill is reported for that command only, not for the next one in a reused cgroup", async () => {
    const s = sandbox({ workspace: tempDir(), memory: "48m" });
    if (!s.capabilities.limits.includes("cpu")) return; // rlimit host: no OOM killer involved
    const bomb = await s.exec(`awk 'BEGIN { s = "x"; while (1) s = s s }'`, { timeoutMs: 60_000 });
    expect(bomb.oomKilled).toBe(true);
    const next = await s.exec("echo fine");
    expect(next).toMatchObject({ stdout: "fine\n", oomKilled: false, exitCode: 0 });
    const again = await s.exec(`awk 'BEGIN { s = "x"; while (1) s = s s }'`, { timeoutMs: 60_000 });
    expect(again.oomKilled).toBe(true);
  });
});

describe("BubblewrapSandbox failures", () => {
  it("a sandbox bwrap could not set up is a SandboxError with bwrap's message, not a command result", async () => {
    const dir = tempDir();
    const fake = path.join(dir, "bwrap");
    // A stand-in for bwrap that fails during setup as bwrap does: a message, exit 1, no exit-code status.
    fs.writeFileSync(
      fake,
      "#!/bin/sh\necho 'bwrap: Can'\\''t mount proc on /newroot/proc: Operation not permitted' >&2\nexit 1\n",
      {
        mode: 0o755,
      },
    );
    const s = sandbox({ workspace: tempDir(), bwrapPath: fake });
    await expect(s.exec("true")).rejects.toThrow(
      /bubblewrap could not start the sandbox: bwrap: Can't mount proc on \/newroot\/proc/,
    );
  });

  it("a masked symlink masks its target inside the workspace; a dangling one is skipped, not fatal", async () => {
    const ws = tempDir();
    fs.writeFileSync(path.join(ws, "real-secrets.txt"), "SECRET\n");
    fs.symlinkSync("real-secrets.txt", path.join(ws, ".env"));
    fs.symlinkSync("/nonexistent/dir/x", path.join(ws, ".env.local"));
    const s = sandbox({ workspace: ws });
    const r = await s.exec("cat .env real-secrets.txt; echo rc=$?");
    expect(r.stdout).toBe("rc=0\n");
  });

  it("a command that fails on its own is a result, not an error, even if it prints like bwrap", async () => {
    const s = sandbox({ workspace: tempDir() });
    const r = await s.exec("echo 'bwrap: fake' >&2; exit 1");
    expect(r).toMatchObject({ exitCode: 1, stderr: "bwrap: fake\n" });
  });
});
