import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { BubblewrapSandbox } from "../../../src/sandbox/bubblewrap/bubblewrap-sandbox.js";
import { shadowInheritedFds } from "../../../src/sandbox/bubblewrap/launcher.js";
import { type CgroupHost, detectCgroupHost } from "../../../src/sandbox/bubblewrap/limits/cgroup.js";

const isRoot = process.getuid?.() === 0;
const made: string[] = [];
const sandboxes: BubblewrapSandbox[] = [];
const tempDir = () => {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-bwrap-launch-")));
  fs.chmodSync(d, 0o755);
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

/** Per-command cgroup folders under this process's parents, per controller folder. */
function commandCgroups(host: CgroupHost): string[] {
  return [...new Set(Object.values(host.parents))].flatMap((p) =>
    fs
      .readdirSync(p)
      .filter((d) => d.startsWith("cmd-"))
      .map((d) => path.join(p, d)),
  );
}

/** The pids in the per-command cgroups (a pid in several controllers is listed once per controller). */
function commandPids(host: CgroupHost): number[] {
  return commandCgroups(host).flatMap((d) =>
    fs.readFileSync(path.join(d, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number),
  );
}

function statusField(pid: number, field: string): string | undefined {
  try {
    const m = new RegExp(`^${field}:[ \\t]*(.*)$`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m?.[1]?.trim();
  } catch {
    return undefined; // exited meanwhile
  }
}

describe("BubblewrapSandbox launch path", () => {
  it("leaks no cgroup folder: finished cgroups are reused during a batch (not one per command), and dispose removes them all", async () => {
    const host = detectCgroupHost();
    if (!host) return; // rlimit host: no cgroups to leak (capabilities.limits says so)
    const before = commandCgroups(host).length;
    const s = sandbox({ workspace: tempDir(), memory: "48m", pids: 64 });
    for (let i = 0; i < 12; i++) expect((await s.exec("true")).exitCode).toBe(0);
    const together = await Promise.all([1, 2, 3, 4].map((n) => s.exec(`exit ${n}`)));
    expect(together.map((r) => r.exitCode)).toEqual([1, 2, 3, 4]);
    const slow = await s.exec("sleep 60 & sleep 60; wait", { timeoutMs: 300 });
    expect(slow.timedOut).toBe(true);
    const bomb = await s.exec(`awk 'BEGIN { s = "x"; while (1) s = s s }'`, { timeoutMs: 60_000 });
    expect(bomb.oomKilled).toBe(true);
    const aborted = new AbortController();
    const killed = s.exec("sleep 60", { signal: aborted.signal });
    aborted.abort();
    expect((await killed).exitCode).not.toBe(0);
    // 19 commands; at most 4 ran at once. Folders per controller: those 4, at most 4 draining and one
    // made ahead, so a pool that replaced each command's folder would still pass, but not one that piles up.
    const perController = new Set(Object.values(host.parents)).size;
    const during = commandCgroups(host).length - before;
    expect(during).toBeGreaterThan(0);
    expect(during).toBeLessThanOrEqual(9 * perController);
    await s.dispose();
    expect(commandCgroups(host).length).toBe(before);
  });

  it("as root, no process of a command runs as host root, not even the launcher, and each is in every limiting cgroup", async () => {
    const host = detectCgroupHost();
    if (!isRoot || !host) return; // not root: nothing to drop from
    const s = sandbox({ workspace: tempDir() });
    const input = new PassThrough();
    const seen: {
      pid: number;
      uid?: string;
      gid?: string;
      groups?: string;
      capEff?: string;
      cgroups: string;
    }[] = [];
    let ready = false;
    const result = await s.execStreaming(["/bin/sh", "-c", "echo ready; exec cat > /dev/null"], {
      input,
      onStdout: (chunk) => {
        if (ready || !chunk.toString().includes("ready")) return;
        ready = true;
        // The command waits for its stdin's end: everything it started is alive while we look.
        const pids = commandPids(host);
        for (const pid of new Set(pids))
          seen.push({
            pid,
            uid: statusField(pid, "Uid"),
            gid: statusField(pid, "Gid"),
            groups: statusField(pid, "Groups"),
            capEff: statusField(pid, "CapEff"),
            cgroups: fs.readFileSync(`/proc/${pid}/cgroup`, "utf8"),
          });
        input.end();
      },
    });
    expect(result.exitCode).toBe(0);
    // bwrap outside (the launcher became it), bwrap as pid 1 inside, the command.
    expect(seen.length).toBeGreaterThanOrEqual(3);
    const id = s.identity;
    for (const p of seen) {
      expect(p.uid?.split(/\s+/)).toEqual([id.uid, id.uid, id.uid, id.uid].map(String));
      expect(p.gid?.split(/\s+/)).toEqual([id.gid, id.gid, id.gid, id.gid].map(String));
      expect(p.groups ?? "").toBe("");
      expect(p.capEff).toBe("0000000000000000");
      for (const controller of Object.keys(host.parents))
        expect(p.cgroups).toMatch(new RegExp(`[:,]${controller}[:,].*/rein-[0-9-]+/cmd-[0-9a-f]+$`, "m"));
    }
  });

  it("cgroups are reused command after command, each with its whole pids limit (a pids folder still counting the last command's unreaped zombies is replaced)", async () => {
    const host = detectCgroupHost();
    if (!host?.parents.memory || !host.parents.pids) return; // no memory/pids cgroups here: rlimits
    const s = sandbox({ workspace: tempDir(), pids: 8 });
    const memoryFolders = new Set<string>();
    for (let i = 0; i < 12; i++) {
      // bwrap outside, bwrap's init, sh and three children: 6 of the 8 allowed. Had the last commands'
      // zombies (bwrap's init, reaped by the host's init, late) still counted, this would fail to fork.
      const r = await s.exec("true & true & true & wait; echo ok");
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("ok\n");
      for (const d of fs.readdirSync(host.parents.memory)) if (d.startsWith("cmd-")) memoryFolders.add(d);
    }
    // Reused, not one per command: one in use and one made ahead, and now and then one more when the
    // last command's cgroup still held its exiting init at the next start.
    expect(memoryFolders.size).toBeLessThanOrEqual(6);
  });

  it("on cgroup v1 the spawning thread goes back where it was, and no command's cgroup ever lists this process", async () => {
    const host = detectCgroupHost();
    if (host?.version !== 1) return; // v2: a shell step joins instead
    const own = () => fs.readFileSync("/proc/thread-self/cgroup", "utf8");
    const before = own();
    const s = sandbox({ workspace: tempDir() });
    const input = new PassThrough();
    let listed: number[] = [];
    const r = await s.execStreaming(["/bin/sh", "-c", "echo ready; exec cat > /dev/null"], {
      input,
      onStdout: () => {
        listed = commandPids(host);
        input.end();
      },
    });
    expect(r.exitCode).toBe(0);
    expect(listed.length).toBeGreaterThanOrEqual(3);
    expect(listed).not.toContain(process.pid);
    expect(own()).toBe(before);
  });
});

describe("the cgroup tasks descriptors spawnInside keeps open", () => {
  /** This process's descriptors that point into a per-command cgroup folder. */
  const commandCgroupFds = () =>
    fs.readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return /\/rein-[0-9-]+\/cmd-[0-9a-f]+\//.test(fs.readlinkSync(`/proc/self/fd/${fd}`));
      } catch {
        return false; // the readdir's own descriptor, closed meanwhile
      }
    });

  it("reach no command (close-on-exec: a command sees only its stdio), and dispose closes them", async () => {
    const host = detectCgroupHost();
    if (host?.version !== 1) return; // v2: a shell step joins instead, no descriptor is kept
    const before = commandCgroupFds().length;
    const s = sandbox({ workspace: tempDir() });
    for (let i = 0; i < 3; i++) expect((await s.exec("true")).exitCode).toBe(0);
    // Open now, one per controller folder of the cgroups the commands ran in.
    expect(commandCgroupFds().length).toBeGreaterThan(before);
    const r = await s.exec(["/bin/sh", "-c", 'cd /proc/self/fd && for f in *; do echo "$f"; done']);
    // 0-2, and the descriptor the shell's glob read the folder with (gone by the time it is listed, or not).
    expect(
      r.stdout
        .trim()
        .split("\n")
        .map(Number)
        .filter((fd) => fd > 3),
    ).toEqual([]);
    await s.dispose();
    expect(commandCgroupFds().length).toBe(before);
  });
});

describe("BubblewrapSandbox under a small memory limit", () => {
  it("joins through a shell step instead of spawning into the cgroups (the fork's own charge could wake the OOM killer there): every process is still in every cgroup, as the sandbox user, and a memory bomb is oomKilled", async () => {
    const host = detectCgroupHost();
    if (!isRoot || host?.version !== 1 || !host.parents.memory) return; // the fallback is for v1 as root
    const s = sandbox({ workspace: tempDir(), memory: "16m" });
    const input = new PassThrough();
    const seen: { pid: number; uid?: string; cgroups: string }[] = [];
    const r = await s.execStreaming(["/bin/sh", "-c", "echo ready; exec cat > /dev/null"], {
      input,
      onStdout: () => {
        const pids = commandPids(host);
        for (const pid of new Set(pids))
          seen.push({
            pid,
            uid: statusField(pid, "Uid"),
            cgroups: fs.readFileSync(`/proc/${pid}/cgroup`, "utf8"),
          });
        input.end();
      },
    });
    expect(r.exitCode).toBe(0);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (const p of seen) {
      expect(p.pid).not.toBe(process.pid);
      expect(p.uid?.split(/\s+/)[0]).toBe(String(s.identity.uid));
      for (const controller of Object.keys(host.parents))
        expect(p.cgroups).toMatch(new RegExp(`[:,]${controller}[:,].*/rein-[0-9-]+/cmd-[0-9a-f]+$`, "m"));
    }
    const bomb = await s.exec(`awk 'BEGIN { s = "x"; while (1) s = s s }'`, { timeoutMs: 60_000 });
    expect(bomb.oomKilled).toBe(true);
  });
});

describe("descriptors inherited by Rein's process", () => {
  it("are each covered by a descriptor bwrap reads as --args and closes (the inherited one never reaches it)", () => {
    const { stdio, bwrapArgs } = shadowInheritedFds(["pipe", "pipe", "pipe", 9, "pipe"], [3, 7, 12], 42);
    // 3 is already Rein's own (the seccomp program): nothing to add for it.
    expect(stdio).toEqual([
      "pipe",
      "pipe",
      "pipe",
      9,
      "pipe",
      "ignore",
      "ignore",
      42,
      "ignore",
      "ignore",
      "ignore",
      "ignore",
      42,
    ]);
    expect(bwrapArgs).toEqual(["--args", "7", "--args", "12"]);
  });
});
