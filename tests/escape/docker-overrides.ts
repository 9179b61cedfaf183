import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { expect, vi } from "vitest";
import { DockerSandbox, GVISOR_HOST_THREADS } from "../../src/sandbox/docker/docker-sandbox.js";
import { findHostProcess, type ProbeContext, type ProbeOverride } from "./probes.js";

/**
 * How Docker (runc) and Docker under gVisor stop the attacks they stop differently from bubblewrap.
 * bubblewrap builds a root of host folders and an /etc of its own; a container has its image's root
 * (with /etc/shadow, /root, /home of the image, none of the host's), so those probes assert the image's
 * files are refused by permissions and the host's are absent. Docker's seccomp answers are Rein's own
 * profile (seccomp-profile.ts), the same deny list as bubblewrap's, so the seccomp probes run unchanged
 * under runc. Under gVisor a `docker exec`'d command runs without the OCI seccomp filter (runsc applies
 * it to the container's first process only): the sentry, gVisor's user-space kernel, serves each call.
 */

const sh = (ctx: ProbeContext, command: string, timeoutMs = 20_000) =>
  ctx.sandbox.exec(command, { timeoutMs });
const py = (ctx: ProbeContext, code: string) =>
  ctx.sandbox.runCode(
    "python",
    `import ctypes, os, socket, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n` +
      "def sc(nr, *a):\n  r = libc.syscall(nr, *[ctypes.c_long(x) for x in a])\n  print(r, ctypes.get_errno())\n" +
      code,
    { timeoutMs: 20_000 },
  );

/** The folders of a Debian image's root (debootstrap): no host folder is among them. */
const IMAGE_ROOT = [
  ...["bin", "boot", "dev", "etc", "home", "lib", "lib64", "media", "mnt", "opt", "proc", "root", "run"],
  ...["sbin", "srv", "sys", "tmp", "usr", "var"],
];

const imageShadow: ProbeOverride = {
  why: "the image's own /etc/shadow (root:shadow 0640) is refused to nobody without capabilities; the host's is not in the view",
  async run(ctx) {
    const r = await sh(ctx, "cat /etc/shadow; ls -l /etc/shadow");
    expect(r.stderr).toMatch(/shadow: Permission denied/);
    expect(r.stdout).toMatch(/^-rw-r----- 1 root shadow /m);
    expect(r.stdout).not.toMatch(/^root:/m);
  },
};

const common: Record<string, ProbeOverride> = {
  "fs-shadow": imageShadow,
  "fs-symlink-shadow": {
    why: "the link leads to the image's /etc/shadow, which nobody cannot read (Permission denied); the host's is not in the view",
    async run(ctx) {
      const r = await sh(ctx, "ln -sf /etc/shadow shadow-link && cat shadow-link");
      expect(r.stderr).toMatch(/shadow-link: Permission denied/);
      expect(r.stdout).toBe("");
    },
  },
  "fs-root-allowlist": {
    why: "the root is the image's own (debootstrap's folders), not an allowlist of host folders; the image's /home, /mnt, /media, /opt, /srv are empty",
    async run(ctx) {
      const top = ctx.workspace.split("/")[1];
      const r = await sh(ctx, "ls -1 /");
      const entries = r.stdout.trim().split("\n");
      expect(entries.filter((e) => IMAGE_ROOT.includes(e) || e !== top)).toEqual(IMAGE_ROOT);
      const empty = await sh(ctx, "ls -A /home /mnt /media /opt /srv | grep -v -e ':$' -e '^$'; echo end");
      expect(empty.stdout).toBe("end\n");
    },
  },
  "fs-root-home": {
    why: "the image's /root is 0700 root (Permission denied for nobody) and its /home is empty; the host's are not in the view",
    async run(ctx) {
      const r = await sh(ctx, "ls /root/.ssh; ls -A /home; echo rc=$?");
      expect(r.stderr).toMatch(/'\/root\/.ssh': Permission denied/);
      expect(r.stdout).toBe("rc=0\n");
    },
  },
  "fs-write-etc": {
    why: "/etc/passwd is the image's own (no host user in it) on a read-only root",
    async run(ctx) {
      const r = await sh(ctx, "cat /etc/passwd; echo 'evil:x:0:0::/:/bin/sh' >> /etc/passwd");
      expect(r.stdout).toMatch(/^nobody:x:65534:65534:/m);
      expect(r.stdout).not.toMatch(/^evil:/m);
      expect(r.stderr).toMatch(/passwd: (Permission denied|Read-only file system)/);
    },
  },
  "fs-sys-absent": {
    why: "/sys is the container's read-only sysfs (gVisor: its own emulated one): nothing in it can be written",
    async run(ctx) {
      const r = await sh(ctx, "echo x > /sys/fs/cgroup/x; echo 1 > /sys/kernel/profiling; echo rc=$?");
      expect(r.stderr).toMatch(/cgroup\/x: (Read-only file system|Permission denied)/);
      expect(r.stderr).toMatch(
        /profiling: (Read-only file system|Permission denied|No such file or directory)/,
      );
    },
  },
  "priv-setuid-0": {
    why: "there is no user namespace mapping to deny it: setuid(0) fails with EPERM (no CAP_SETUID, every capability dropped)",
    async run(ctx) {
      const r = await py(
        ctx,
        "try:\n  os.setuid(0); print('root')\nexcept OSError as e: print('errno', e.errno)",
      );
      expect(r.stdout.trim()).toBe("errno 1");
    },
  },
};

/** gVisor's answers, observed: the sentry serves the call itself (or refuses it), the host kernel never sees it. */
const GVISOR_ANSWERS: Record<string, { code: string; expect: RegExp; what: string }> = {
  "sc-ptrace": {
    code: "sc(NR.ptrace, 0, 0, 0, 0)",
    expect: /^0 0$/,
    what: "gVisor's own ptrace, inside the sandbox",
  },
  "sc-process-vm-readv": {
    code: "sc(NR.process_vm_readv, 1, 0, 0, 0, 0, 0)",
    expect: /^0 0$/,
    what: "gVisor's own, reaching only the sandbox's processes",
  },
  "sc-setns": { code: "sc(NR.setns, 0, 0)", expect: /^-1 22$/, what: "EINVAL: no namespace file to join" },
  "sc-keyctl": {
    code: "sc(NR.keyctl, 0, 0, 0, 0, 0)",
    expect: /^-1 38$/,
    what: "ENOSYS: gVisor has no kernel keyring",
  },
  "sc-add-key": {
    code: "sc(NR.add_key, 0, 0, 0, 0, 0)",
    expect: /^-1 13$/,
    what: "EACCES: gVisor has no kernel keyring",
  },
  "sc-io-uring": {
    code: "sc(NR.io_uring_setup, 8, 0)",
    expect: /^-1 38$/,
    what: "ENOSYS: gVisor has no io_uring here",
  },
  "sc-perf": {
    code: "sc(NR.perf_event_open, 0, 0, 0, 0, 0)",
    expect: /^-1 19$/,
    what: "ENODEV: no perf events",
  },
  "sc-userfaultfd": {
    code: "sc(NR.userfaultfd, 0)",
    expect: /^-1 38$/,
    what: "ENOSYS: gVisor has no userfaultfd",
  },
  "sc-open-by-handle": {
    code: "sc(NR.open_by_handle_at, 0, 0, 0)",
    expect: /^-1 95$/,
    what: "EOPNOTSUPP: no file handles in gVisor",
  },
  "sc-unshare-user": {
    code: "sc(NR.unshare, 0x10000000)",
    expect: /^0 0$/,
    what: "a user namespace of gVisor's own kernel, not the host's",
  },
  "sc-clone-newuser": {
    code: "sc(NR.clone, 0x10000000 | 17, 0, 0, 0, 0)",
    expect: /^[1-9]\d* 0$/m,
    what: "a child in a user namespace of gVisor's own kernel",
  },
  "sc-clone3": { code: "sc(NR.clone3, 0, 0)", expect: /^-1 22$/, what: "EINVAL for the empty clone_args" },
  "sc-tiocsti": {
    code: "sc(NR.ioctl, 0, 0x5412, 0)",
    expect: /^-1 25$/,
    what: "ENOTTY: stdin is a pipe, no terminal",
  },
};

async function expectGvisorKernel(ctx: ProbeContext): Promise<void> {
  const r = await sh(ctx, "dmesg | head -n 1");
  expect(r.stdout).toMatch(/Starting gVisor/);
}

const gvisorSyscalls = Object.fromEntries(
  Object.entries(GVISOR_ANSWERS).map(([id, a]) => [
    id,
    {
      why: `served by gVisor's sentry, not the host kernel: ${a.what}`,
      async run(ctx: ProbeContext) {
        await expectGvisorKernel(ctx);
        const code = a.code.replace(/NR\.(\w+)/g, (_, name: string) => String(ctx.nr[name]));
        const r = await py(ctx, `${code}`);
        expect(r.stdout.trim()).toMatch(a.expect);
      },
    } satisfies ProbeOverride,
  ]),
);

/** Writes gVisor refuses by file mode before the read-only mount (Permission denied), with the same effect. */
const gvisorRefusedWrite = (
  id: string,
  command: string,
  file: RegExp,
  check?: (ctx: ProbeContext) => void,
) => ({
  [id]: {
    why: "gVisor checks the file mode before the read-only mount: Permission denied instead of Read-only file system",
    async run(ctx: ProbeContext) {
      const r = await sh(ctx, command);
      expect(r.stderr).toMatch(file);
      check?.(ctx);
    },
  } satisfies ProbeOverride,
});

export const DOCKER_OVERRIDES: Readonly<Record<string, ProbeOverride>> = {
  ...common,
  "fs-proc-1-root": {
    why: "/proc/1/root is the container's own root (its init, the keeper): the image's folders, the host secret absent",
    async run(ctx) {
      const r = await sh(ctx, `ls -1 /proc/1/root/; cat /proc/1/root${ctx.hostSecretPath}`);
      expect(r.stdout.trim().split("\n")).toEqual(expect.arrayContaining(["usr", "etc"]));
      expect(r.stderr).toMatch(/host-secret.txt: No such file or directory/);
    },
  },
  "sig-parent": {
    why: "the command's parent is Rein's wrapper (it only waits for the command); the container's init ignores SIGKILL from inside",
    async run(ctx) {
      const r = await sh(ctx, `kill -9 1; echo survived; kill -0 ${process.pid}`);
      expect(r.stdout).toBe("survived\n");
      if (process.pid > 10) expect(r.stderr).toMatch(/No such process/);
      expect((await sh(ctx, "cat /proc/1/cmdline | tr '\\0' ' '")).stdout).toMatch(/^\/bin\/sh -c while/);
    },
  },
};

export const GVISOR_OVERRIDES: Readonly<Record<string, ProbeOverride>> = {
  ...common,
  ...gvisorSyscalls,
  ...gvisorRefusedWrite("fs-write-usr", "echo x > /usr/bin/rein-evil", /rein-evil: Permission denied/),
  ...gvisorRefusedWrite("fs-write-root", "echo x > /rein-escape", /rein-escape: Permission denied/),
  ...gvisorRefusedWrite(
    "fs-mask-ssh",
    "ls -A .ssh; cat .ssh/id_rsa; touch .ssh/x",
    /id_rsa: No such file or directory\n.*'\.ssh\/x': Permission denied/s,
  ),
  ...gvisorRefusedWrite(
    "fs-mask-rein",
    "ls -A .rein; echo x > .rein/audit.jsonl",
    /audit.jsonl: Permission denied/,
    (ctx) =>
      expect(fs.readFileSync(path.join(ctx.workspace, ".rein", "audit.jsonl"), "utf8")).toBe("genuine\n"),
  ),
  ...gvisorRefusedWrite(
    "fs-mask-unmount",
    "rm -f .env; mv .env .env.old; echo API_KEY=stolen > .env; wc -c < .env",
    /remove '\.env': Device or resource busy\n.*Device or resource busy\n.*cannot create \.env: Permission denied/s,
    (ctx) => expect(fs.readFileSync(path.join(ctx.workspace, ".env"), "utf8")).toContain("API_KEY=host"),
  ),
  "fs-proc-1-root": {
    why: "gVisor refuses /proc/1/root of the container's init to the command (Permission denied)",
    async run(ctx) {
      const r = await sh(ctx, "ls -1 /proc/1/root/; cat /proc/1/root/etc/shadow");
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/'\/proc\/1\/root\/': Permission denied/);
      expect(r.stderr).toMatch(/shadow: Permission denied/);
    },
  },
  "priv-uid": {
    why: "the command's processes live inside gVisor's sentry: no host process runs them, whatever their uid inside (nobody)",
    async run(ctx) {
      const marker = `started-${process.pid}`;
      const running = sh(
        ctx,
        `id -u; sleep 31.4159 & touch ${marker}; while [ ! -e go-${process.pid} ]; do sleep 0.05; done`,
      );
      await vi.waitFor(() => expect(fs.existsSync(path.join(ctx.workspace, marker))).toBe(true), {
        timeout: 15_000,
        interval: 20,
      });
      expect(findHostProcess("sleep", "31.4159")).toBeUndefined();
      fs.writeFileSync(path.join(ctx.workspace, `go-${process.pid}`), "");
      const r = await running;
      expect(r.stdout.trim()).toBe(String(ctx.sandboxUid));
    },
  },
  "priv-caps": {
    why: "gVisor's /proc/self/status has no CapAmb line; the four capability sets it reports are empty",
    async run(ctx) {
      const r = await sh(ctx, "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status");
      const lines = r.stdout.trim().split("\n");
      expect(lines.map((l) => l.split(":")[0])).toEqual(["CapInh", "CapPrm", "CapEff", "CapBnd"]);
      for (const l of lines) expect(l).toMatch(/:\s+0000000000000000$/);
    },
  },
  "priv-setuid": {
    why: "gVisor's /proc/self/status has no NoNewPrivs line: prctl(PR_GET_NO_NEW_PRIVS) says 1, and su fails",
    async run(ctx) {
      const r = await py(
        ctx,
        "print('nnp', libc.prctl(39, 0, 0, 0, 0))\nimport subprocess\nprint('su', subprocess.run(['su', '-c', 'id', 'root'], stdin=subprocess.DEVNULL, capture_output=True).returncode)",
      );
      expect(r.stdout).toMatch(/^nnp 1$/m);
      expect(r.stdout).toMatch(/^su [1-9]\d*$/m);
    },
  },
  "priv-nested-userns": {
    why: "unshare -U succeeds, inside gVisor's own kernel (its user namespaces are the sentry's, never the host's)",
    async run(ctx) {
      await expectGvisorKernel(ctx);
      const r = await sh(ctx, "unshare -U sh -c 'id -u; uname -r'; echo rc=$?");
      expect(r.stdout).toMatch(/^65534\n4\.4\.0\nrc=0\n$/);
    },
  },
  "sc-x32-abi": {
    why: "gVisor does not implement the x32 ABI: the call answers ENOSYS and never reaches the host kernel",
    async run(ctx) {
      if (process.arch !== "x64") return expect(process.arch).toBe("arm64");
      const r = await py(ctx, "print('before', flush=True)\nsc(0x40000000 | 39)\nprint('after')");
      expect(r.stdout).toBe("before\n-1 38\nafter\n");
    },
  },
  "sc-status": {
    why: "the command itself shows Seccomp: 0 inside gVisor; the sentry that serves it runs under gVisor's host seccomp filter",
    async run(ctx) {
      const r = await sh(ctx, "grep -E '^Seccomp:' /proc/self/status");
      expect(r.stdout).toMatch(/^Seccomp:\s+0$/m);
      const id = await (ctx.sandbox as DockerSandbox).ready();
      const sentry = hostProcessWith(["runsc-sandbox", id]) ?? hostProcessWith(["boot", id]);
      expect(sentry, "the sentry's host process").toBeDefined();
      expect(fs.readFileSync(`/proc/${sentry}/status`, "utf8")).toMatch(/^Seccomp:\s+2$/m);
    },
  },
  "net-metadata": {
    why: "runsc --network=none: gVisor's network stack has only loopback, no route: EHOSTUNREACH (113)",
    async run(ctx) {
      const r = await py(
        ctx,
        `s = socket.socket()\ntry:\n  s.connect(("169.254.169.254", 80)); print("connected")\nexcept OSError as e: print("errno", e.errno)`,
      );
      expect(r.stdout.trim()).toBe("errno 113");
    },
  },
  "net-public-ip": {
    why: "runsc --network=none: gVisor's network stack has only loopback, no route: EHOSTUNREACH (113)",
    async run(ctx) {
      const r = await py(
        ctx,
        `s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ntry:\n  s.sendto(b"x", ("8.8.8.8", 53)); print("sent")\nexcept OSError as e: print("errno", e.errno)`,
      );
      expect(r.stdout.trim()).toBe("errno 113");
    },
  },
  "net-unix-socket": {
    why: "an AF_UNIX socket is gVisor's own: it opens, but the host's abstract sockets are not reachable (ECONNREFUSED)",
    async run(ctx) {
      const name = `rein-escape-${process.pid}`;
      const server = net.createServer((s) => s.end("host\n"));
      await new Promise<void>((r) => server.listen(`\0${name}`, r));
      try {
        const r = await py(
          ctx,
          `s = socket.socket(socket.AF_UNIX)\ntry:\n  s.connect("\\0${name}"); print("connected")\nexcept OSError as e: print("errno", e.errno)`,
        );
        expect(r.stdout.trim()).toBe("errno 111");
      } finally {
        server.close();
      }
    },
  },
  "net-vsock": {
    why: "gVisor has no AF_VSOCK: EAFNOSUPPORT (97), nothing reaches the hypervisor",
    async run(ctx) {
      const r = await py(ctx, `sc(${ctx.nr.socket}, 40, 1, 0)`);
      expect(r.stdout.trim()).toBe("-1 97");
    },
  },
  "res-memory-bomb": {
    why: "gVisor's sentry ends the allocation inside the sandbox (the host OOM killer may not be the one): it fails and the sandbox keeps answering",
    async run(ctx) {
      const r = await sh(ctx, `awk 'BEGIN { s = "x"; while (1) s = s s }'`, 60_000);
      expect(r.exitCode).not.toBe(0);
      expect(r.timedOut).toBe(false);
      expect((await sh(ctx, "echo alive")).stdout).toBe("alive\n");
    },
  },
  "res-fork-bomb": {
    why: `no per-process limit holds under gVisor (pids is not in its capabilities); the host threads stay under the ${GVISOR_HOST_THREADS} ceiling and the processes die with the command`,
    async run(ctx) {
      expect(ctx.sandbox.capabilities.limits).not.toContain("pids");
      const r = await sh(
        ctx,
        `i=0; while [ $i -lt ${ctx.limits.pids * 2} ]; do sleep 30 & i=$((i+1)); done; echo all-forked`,
        60_000,
      );
      expect(r.stdout).toContain("all-forked");
      const id = await (ctx.sandbox as DockerSandbox).ready();
      const current = readHostPids(id);
      if (current !== undefined) expect(current).toBeLessThanOrEqual(GVISOR_HOST_THREADS);
      // The command's sleeps died with it: only the keeper's own sleep is left.
      expect((await sh(ctx, "grep -l '^sleep$' /proc/[0-9]*/comm | wc -l")).stdout.trim()).toBe("1");
    },
  },
  "sig-parent": {
    why: "gVisor delivers SIGKILL to the container's init from inside: the command ends its own sandbox, and every later call fails with a clear error",
    async run(ctx) {
      const own = new DockerSandbox({ runtime: "runsc" });
      try {
        // The command that kills init either ends with it or is told its container stopped under it.
        const first = await own.exec("kill -9 1; echo after").catch((e: unknown) => e);
        if (first instanceof Error) expect(first.message).toMatch(/container has stopped/);
        else expect((first as { exitCode: number | null }).exitCode).not.toBe(0);
        const err = await own.exec("echo again").catch((e: unknown) => e);
        expect((err as { code?: string }).code).toBe("REIN_SANDBOX_FAILED");
        expect(String((err as Error).message)).toMatch(/container has stopped/);
      } finally {
        await own.dispose();
      }
      expect((await sh(ctx, "echo the suite sandbox is untouched")).exitCode).toBe(0);
    },
  },
};

function hostProcessWith(parts: readonly string[]): number | undefined {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (parts.every((p) => cmd.includes(p))) return Number(entry);
    } catch {}
  }
  return undefined;
}

function readHostPids(id: string): number | undefined {
  for (const f of [
    `/sys/fs/cgroup/pids/docker/${id}/pids.current`,
    `/sys/fs/cgroup/docker/${id}/pids.current`,
  ]) {
    try {
      return Number(fs.readFileSync(f, "utf8").trim());
    } catch {}
  }
  return undefined;
}
