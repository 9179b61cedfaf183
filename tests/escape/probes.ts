/**
 * The escape suite: attacks a sandboxed command makes, each with the specific way it must be stopped.
 * Backend-neutral: a runner per backend (bubblewrap.test.ts now; Docker, gVisor and WebAssembly later)
 * builds a `ProbeContext` and runs every probe. Probes that need raw syscalls use python3 (ctypes);
 * syscall numbers come from the seccomp filter's own table for the host architecture.
 */
import fs from "node:fs";
import path from "node:path";
import { expect, vi } from "vitest";
import type { ExecResult, Sandbox } from "../../src/sandbox/sandbox.js";

export type ProbeCategory =
  | "filesystem"
  | "privileges"
  | "seccomp"
  | "network"
  | "resources"
  | "environment"
  | "signals";

export interface ProbeContext {
  readonly sandbox: Sandbox;
  /** The sandbox's workspace on the host. */
  readonly workspace: string;
  /** A file outside the workspace, world-readable on the host, that must stay invisible. */
  readonly hostSecretPath: string;
  readonly hostSecretText: string;
  /** A TCP service on the host's 127.0.0.1. */
  readonly loopbackPort: number;
  /** A Unix socket service on the host. */
  readonly hostSocketPath: string;
  /** An environment variable set in the host process (name and value). */
  readonly envSecret: { readonly name: string; readonly value: string };
  /** A host process running as the sandbox's own uid, which the sandbox must not be able to signal. */
  readonly victimPid: number;
  /** Syscall numbers for the host architecture. */
  readonly nr: Readonly<Record<string, number>>;
  /** The sandbox user's host uid (never 0). */
  readonly sandboxUid: number;
  /** Limits the runner configured: memory bytes, pids, /tmp bytes, output cap. */
  readonly limits: { readonly memoryBytes: number; readonly pids: number; readonly tmpBytes: number };
}

export interface Probe {
  readonly id: string;
  readonly category: ProbeCategory;
  readonly title: string;
  /** Runs the attack and asserts how it was stopped. */
  run(ctx: ProbeContext): Promise<void>;
}

const sh = (ctx: ProbeContext, command: string, timeoutMs = 20_000) =>
  ctx.sandbox.exec(command, { timeoutMs });

/** Python that calls a raw syscall and prints `ret errno`. */
const py = (ctx: ProbeContext, code: string, timeoutMs = 20_000) =>
  ctx.sandbox.runCode(
    "python",
    `import ctypes, os, socket, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n` +
      "def sc(nr, *a):\n  r = libc.syscall(nr, *[ctypes.c_long(x) for x in a])\n  print(r, ctypes.get_errno())\n" +
      code,
    { timeoutMs },
  );

/** A raw syscall that must fail with EPERM (seccomp's answer): prints "-1 1". */
function seccompDenied(id: string, name: string, args: number[], why: string): Probe {
  return {
    id,
    category: "seccomp",
    title: `${name} is refused by seccomp (${why})`,
    async run(ctx) {
      const n = ctx.nr[name];
      expect(n, `no syscall number for ${name}`).toBeTypeOf("number");
      const r = await py(ctx, `sc(${n}, ${args.join(", ") || "0"})`);
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe("-1 1"); // EPERM
    },
  };
}

const EXPECTED_ROOT = ["bin", "dev", "etc", "lib", "lib64", "proc", "sbin", "tmp", "usr", "var"];

function noSuchFile(r: ExecResult): void {
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toMatch(/No such file or directory/);
}

export const PROBES: readonly Probe[] = [
  // ---------------------------------------------------------------- filesystem
  {
    id: "fs-shadow",
    category: "filesystem",
    title: "/etc/shadow does not exist in the sandbox's view",
    async run(ctx) {
      const r = await sh(ctx, "cat /etc/shadow");
      noSuchFile(r);
      expect(r.stdout).toBe("");
    },
  },
  {
    id: "fs-host-secret",
    category: "filesystem",
    title: "a world-readable host file outside the workspace is not in the view",
    async run(ctx) {
      const r = await sh(ctx, `cat ${JSON.stringify(ctx.hostSecretPath)}`);
      noSuchFile(r);
      expect(r.stdout).not.toContain(ctx.hostSecretText);
    },
  },
  {
    id: "fs-root-allowlist",
    category: "filesystem",
    title: "the root holds only the allowlisted folders (no /home, /root, /run, /sys, /var/run)",
    async run(ctx) {
      const r = await sh(ctx, "ls -1 /");
      const top = ctx.workspace.split("/")[1];
      const entries = r.stdout
        .trim()
        .split("\n")
        .filter((e) => e !== top);
      expect(entries.every((e) => EXPECTED_ROOT.includes(e))).toBe(true);
      for (const hidden of ["home", "root", "run", "sys", "boot", "opt", "mnt", "srv", "media"])
        expect(entries).not.toContain(hidden);
    },
  },
  {
    id: "fs-root-home",
    category: "filesystem",
    title: "/root/.ssh and /home are absent",
    async run(ctx) {
      const r = await sh(ctx, "ls /root/.ssh /home");
      noSuchFile(r);
    },
  },
  {
    id: "fs-write-usr",
    category: "filesystem",
    title: "/usr is read-only",
    async run(ctx) {
      const r = await sh(ctx, "echo x > /usr/bin/rein-evil");
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(/Read-only file system/);
    },
  },
  {
    id: "fs-write-etc",
    category: "filesystem",
    title: "/etc/passwd is a read-only generated file naming only the sandbox user",
    async run(ctx) {
      const r = await sh(ctx, "cat /etc/passwd; echo 'evil:x:0:0::/:/bin/sh' >> /etc/passwd");
      expect(r.stdout.trim().split("\n")).toHaveLength(1);
      expect(r.stdout).toContain(`:${ctx.sandboxUid}:`);
      expect(r.stderr).toMatch(/passwd: (Permission denied|Read-only file system)/);
    },
  },
  {
    id: "fs-write-root",
    category: "filesystem",
    title: "the sandbox root is read-only (no uncapped scratch space outside /tmp)",
    async run(ctx) {
      const r = await sh(ctx, "echo x > /rein-escape");
      expect(r.stderr).toMatch(/Read-only file system/);
    },
  },
  {
    id: "fs-write-parent",
    category: "filesystem",
    title: "writing next to the workspace never reaches the host folder around it",
    async run(ctx) {
      const r = await sh(ctx, 'echo x > "$PWD/../rein-escape.txt"; echo rc=$?');
      expect(r.stdout).toMatch(/rc=\d/);
      expect(fs.existsSync(path.join(path.dirname(ctx.workspace), "rein-escape.txt"))).toBe(false);
    },
  },
  {
    id: "fs-symlink-shadow",
    category: "filesystem",
    title: "a symlink from the workspace to /etc/shadow leads nowhere inside",
    async run(ctx) {
      const r = await sh(ctx, "ln -sf /etc/shadow shadow-link && cat shadow-link");
      noSuchFile(r);
    },
  },
  {
    id: "fs-symlink-host-secret",
    category: "filesystem",
    title: "a symlink to the host secret's path leads nowhere inside",
    async run(ctx) {
      const r = await sh(ctx, `ln -sf ${JSON.stringify(ctx.hostSecretPath)} secret-link && cat secret-link`);
      noSuchFile(r);
      expect(r.stdout).not.toContain(ctx.hostSecretText);
    },
  },
  {
    id: "fs-hardlink-host-secret",
    category: "filesystem",
    title: "a hardlink to the host secret cannot be made (its source is not in the view)",
    async run(ctx) {
      const r = await sh(ctx, `ln ${JSON.stringify(ctx.hostSecretPath)} secret-hard`);
      expect(r.stderr).toMatch(/No such file or directory/);
      expect(fs.existsSync(path.join(ctx.workspace, "secret-hard"))).toBe(false);
    },
  },
  {
    id: "fs-hardlink-system",
    category: "filesystem",
    title: "a hardlink from the workspace to a system file crosses mounts and is refused (EXDEV)",
    async run(ctx) {
      const r = await sh(ctx, "ln /etc/passwd passwd-hard");
      expect(r.stderr).toMatch(/Invalid cross-device link/);
    },
  },
  {
    id: "fs-proc-1-root",
    category: "filesystem",
    title: "/proc/1/root is the sandbox's own root, not the host's",
    async run(ctx) {
      const r = await sh(ctx, "ls -1 /proc/1/root/; cat /proc/1/root/etc/shadow");
      expect(r.stdout).not.toMatch(/^(home|root|boot)$/m);
      expect(r.stderr).toMatch(/shadow: No such file or directory/);
    },
  },
  {
    id: "fs-proc-host-pid",
    category: "filesystem",
    title: "host processes (the victim's /proc/<pid>/root) are not in the sandbox's /proc",
    async run(ctx) {
      const r = await sh(ctx, `ls /proc/${ctx.victimPid}/root/`);
      // The victim's host pid does not exist in the sandbox's pid namespace (small pids only).
      if (ctx.victimPid > 10) noSuchFile(r);
      const pids = await sh(ctx, "ls -1 /proc | grep -c '^[0-9]'");
      expect(Number(pids.stdout.trim())).toBeLessThan(10);
    },
  },
  {
    id: "fs-sys-absent",
    category: "filesystem",
    title: "/sys (cgroups, devices, firmware) is not mounted",
    async run(ctx) {
      noSuchFile(await sh(ctx, "ls /sys/fs/cgroup"));
    },
  },
  {
    id: "fs-dev-minimal",
    category: "filesystem",
    title: "/dev holds no disks, memory or kvm",
    async run(ctx) {
      const r = await sh(ctx, "ls /dev/sda /dev/vda /dev/mem /dev/kmsg /dev/kvm");
      noSuchFile(r);
      expect(r.stdout).toBe("");
    },
  },
  {
    id: "fs-planted-symlink-host-read",
    category: "filesystem",
    title:
      "a symlink planted in the workspace is read by the host through the sandbox, never followed on the host",
    async run(ctx) {
      await sh(ctx, "ln -sf /etc/shadow report.txt");
      await expect(ctx.sandbox.getFile("report.txt")).rejects.toMatchObject({ code: "REIN_SANDBOX_FAILED" });
    },
  },
  {
    id: "fs-planted-fifo-host-read",
    category: "filesystem",
    title: "a FIFO planted in the workspace is refused by getFile, not waited on",
    async run(ctx) {
      await sh(ctx, "mkfifo trap.fifo");
      await expect(ctx.sandbox.getFile("trap.fifo")).rejects.toThrow(/not a regular file/);
    },
  },
  {
    id: "fs-mask-env",
    category: "filesystem",
    title: "a .env file the policy denies reads empty inside (masked), though the host file has content",
    async run(ctx) {
      const r = await sh(ctx, "cat .env; wc -c < .env");
      expect(fs.readFileSync(path.join(ctx.workspace, ".env"), "utf8")).toContain("API_KEY");
      expect(r.stdout.trim()).toBe("0");
    },
  },
  {
    id: "fs-mask-nested-env",
    category: "filesystem",
    title: "a nested config/.env.production is masked too",
    async run(ctx) {
      const r = await sh(ctx, "wc -c < config/.env.production");
      expect(r.stdout.trim()).toBe("0");
    },
  },
  {
    id: "fs-mask-ssh",
    category: "filesystem",
    title: "a .ssh folder in the workspace is an empty read-only folder inside",
    async run(ctx) {
      const r = await sh(ctx, "ls -A .ssh; cat .ssh/id_rsa; touch .ssh/x");
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/id_rsa: No such file or directory/);
      expect(r.stderr).toMatch(/Read-only file system/);
    },
  },
  {
    id: "fs-mask-rein",
    category: "filesystem",
    title: "the workspace's .rein/ (audit, state) is empty and read-only inside",
    async run(ctx) {
      const r = await sh(ctx, "ls -A .rein; echo x > .rein/audit.jsonl");
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/Read-only file system/);
      expect(fs.readFileSync(path.join(ctx.workspace, ".rein", "audit.jsonl"), "utf8")).toBe("genuine\n");
    },
  },
  {
    id: "fs-mask-unmount",
    category: "filesystem",
    title:
      "a mask cannot be removed or replaced (busy mount point, read-only file); umount2 is a seccomp probe",
    async run(ctx) {
      const r = await sh(ctx, "rm -f .env; mv .env .env.old; echo API_KEY=stolen > .env; wc -c < .env");
      expect(r.stderr).toMatch(/cannot remove '\.env': Device or resource busy/);
      expect(r.stderr).toMatch(/cannot move '\.env'.*Device or resource busy/);
      expect(r.stderr).toMatch(/cannot create \.env: Read-only file system/);
      expect(r.stdout.trim()).toBe("0");
      expect(fs.readFileSync(path.join(ctx.workspace, ".env"), "utf8")).toContain("API_KEY=host");
    },
  },
  {
    id: "fs-host-owner",
    category: "filesystem",
    title: "files the sandbox writes belong to its unprivileged host uid, never root",
    async run(ctx) {
      await sh(ctx, "echo mine > owned.txt");
      const st = fs.statSync(path.join(ctx.workspace, "owned.txt"));
      expect(st.uid).toBe(ctx.sandboxUid);
      expect(st.uid).not.toBe(0);
    },
  },
  // ---------------------------------------------------------------- privileges
  {
    id: "priv-uid",
    category: "privileges",
    title: "the command is not uid 0 inside, and its host uid (seen from the host) is not 0",
    async run(ctx) {
      const running = ctx.sandbox.exec("id -u; exec sleep 31.4159", { timeoutMs: 20_000 });
      const hostPid = await vi.waitFor(
        () => {
          const pid = findHostProcess("sleep", "31.4159");
          if (pid === undefined) throw new Error("not yet");
          return pid;
        },
        { timeout: 10_000, interval: 10 },
      );
      const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(
        fs.readFileSync(`/proc/${hostPid}/status`, "utf8"),
      );
      expect(uids?.slice(1).map(Number)).toEqual([
        ctx.sandboxUid,
        ctx.sandboxUid,
        ctx.sandboxUid,
        ctx.sandboxUid,
      ]);
      process.kill(hostPid, "SIGKILL");
      const r = await running;
      expect(r.stdout.trim()).toBe(String(ctx.sandboxUid));
    },
  },
  {
    id: "priv-caps",
    category: "privileges",
    title: "every capability set is empty (effective, permitted, bounding, ambient)",
    async run(ctx) {
      const r = await sh(ctx, "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status");
      const lines = r.stdout.trim().split("\n");
      expect(lines).toHaveLength(5);
      for (const l of lines) expect(l).toMatch(/:\s+0000000000000000$/);
    },
  },
  {
    id: "priv-setuid",
    category: "privileges",
    title: "setuid binaries give nothing: no_new_privs is set and su fails",
    async run(ctx) {
      const r = await sh(ctx, "grep NoNewPrivs /proc/self/status; su -c id root; echo su=$?");
      expect(r.stdout).toMatch(/NoNewPrivs:\s+1/);
      expect(r.stdout).not.toMatch(/uid=0/);
      expect(r.stdout).toMatch(/su=[1-9]/);
    },
  },
  {
    id: "priv-setuid-0",
    category: "privileges",
    title: "setuid(0) fails: uid 0 does not exist in the sandbox's user namespace (EINVAL)",
    async run(ctx) {
      const r = await py(
        ctx,
        "try:\n  os.setuid(0); print('root')\nexcept OSError as e: print('errno', e.errno)",
      );
      expect(r.stdout.trim()).toBe("errno 22");
    },
  },
  {
    id: "priv-proc-sys",
    category: "privileges",
    title: "/proc/sys cannot be written",
    async run(ctx) {
      const r = await sh(
        ctx,
        "echo 3 > /proc/sys/vm/drop_caches; echo '|/tmp/x' > /proc/sys/kernel/core_pattern",
      );
      expect(r.stderr).toMatch(/drop_caches: (Permission denied|Read-only file system)/);
      expect(r.stderr).toMatch(/core_pattern: (Permission denied|Read-only file system)/);
    },
  },
  {
    id: "priv-sysrq-trigger",
    category: "privileges",
    title: "/proc/sysrq-trigger cannot be written",
    async run(ctx) {
      const r = await sh(ctx, "echo c > /proc/sysrq-trigger; echo rc=$?");
      expect(r.stdout).toMatch(/rc=[1-9]/);
    },
  },
  {
    id: "priv-nested-userns",
    category: "privileges",
    title: "a nested user namespace (unshare -U) is refused",
    async run(ctx) {
      const r = await sh(ctx, "unshare -U id -u; echo rc=$?");
      expect(r.stderr).toMatch(/unshare failed: (Operation not permitted|No space left on device)/);
      expect(r.stdout).toMatch(/rc=1/);
    },
  },
  {
    id: "priv-hostname",
    category: "privileges",
    title: "the hostname is the sandbox's own (uts namespace), and changing it is refused",
    async run(ctx) {
      const r = await sh(ctx, "hostname; hostname evil");
      expect(r.stdout.trim()).toBe("rein-sandbox");
      expect(r.stderr).toMatch(/hostname: you must be root|Operation not permitted/);
    },
  },
  // ---------------------------------------------------------------- seccomp (each answers EPERM)
  seccompDenied("sc-ptrace", "ptrace", [0, 0, 0, 0], "PTRACE_TRACEME"),
  seccompDenied(
    "sc-process-vm-readv",
    "process_vm_readv",
    [1, 0, 0, 0, 0, 0],
    "read another process's memory",
  ),
  seccompDenied("sc-mount", "mount", [0, 0, 0, 0, 0], "mount"),
  seccompDenied("sc-umount2", "umount2", [0, 0], "unmount a mask"),
  seccompDenied("sc-pivot-root", "pivot_root", [0, 0], "change root"),
  seccompDenied("sc-setns", "setns", [0, 0], "join a namespace"),
  seccompDenied("sc-keyctl", "keyctl", [0, 0, 0, 0, 0], "kernel keyring"),
  seccompDenied("sc-add-key", "add_key", [0, 0, 0, 0, 0], "kernel keyring"),
  seccompDenied("sc-init-module", "init_module", [0, 0, 0], "load a kernel module"),
  seccompDenied("sc-finit-module", "finit_module", [0, 0, 0], "load a kernel module"),
  seccompDenied("sc-bpf", "bpf", [0, 0, 0], "eBPF programs"),
  seccompDenied("sc-io-uring", "io_uring_setup", [8, 0], "io_uring bypasses seccomp for its operations"),
  seccompDenied("sc-perf", "perf_event_open", [0, 0, 0, 0, 0], "perf events"),
  seccompDenied("sc-userfaultfd", "userfaultfd", [0], "an exploit aid"),
  seccompDenied("sc-kexec", "kexec_load", [0, 0, 0, 0], "replace the kernel"),
  seccompDenied("sc-open-by-handle", "open_by_handle_at", [0, 0, 0], "walks out of a mount"),
  seccompDenied("sc-chroot", "chroot", [0], "change root"),
  seccompDenied("sc-reboot", "reboot", [0, 0, 0, 0], "reboot"),
  seccompDenied("sc-unshare-user", "unshare", [0x10000000], "CLONE_NEWUSER"),
  seccompDenied("sc-unshare-net", "unshare", [0x40000000], "CLONE_NEWNET"),
  seccompDenied("sc-clone-newuser", "clone", [0x10000000 | 17, 0, 0, 0, 0], "clone with CLONE_NEWUSER"),
  {
    id: "sc-clone3",
    category: "seccomp",
    title: "clone3 answers ENOSYS, so libc falls back to clone, whose flags the filter checks",
    async run(ctx) {
      const r = await py(ctx, `sc(${ctx.nr.clone3}, 0, 0)`);
      expect(r.stdout.trim()).toBe("-1 38");
    },
  },
  {
    id: "sc-fork-still-works",
    category: "seccomp",
    title: "ordinary clone (fork) still works: the filter is a deny list, not a wall",
    async run(ctx) {
      const r = await py(ctx, "pid = os.fork()\nif pid == 0: os._exit(7)\nprint(os.waitpid(pid, 0)[1] >> 8)");
      expect(r.stdout.trim()).toBe("7");
    },
  },
  {
    id: "sc-x32-abi",
    category: "seccomp",
    title: "a syscall through the x32 ABI (nr | 0x40000000) kills the process (SIGSYS)",
    async run(ctx) {
      if (process.arch !== "x64") return expect(process.arch).toBe("arm64"); // no x32 ABI on aarch64
      const r = await py(ctx, "print('before', flush=True)\nsc(0x40000000 | 39)\nprint('after')");
      expect(r.stdout).toBe("before\n");
      expect(r.exitCode === 128 + 31 || r.signal === "SIGSYS").toBe(true);
    },
  },
  {
    id: "sc-tiocsti",
    category: "seccomp",
    title: "TIOCSTI (typing into the caller's terminal) is refused with EPERM, not merely ENOTTY",
    async run(ctx) {
      const r = await py(ctx, `sc(${ctx.nr.ioctl}, 0, 0x5412, 0)`);
      expect(r.stdout.trim()).toBe("-1 1");
    },
  },
  {
    id: "sc-status",
    category: "seccomp",
    title: "the filter is installed (Seccomp: 2) and cannot be dropped",
    async run(ctx) {
      const r = await sh(ctx, "grep -E '^Seccomp:' /proc/self/status");
      expect(r.stdout).toMatch(/^Seccomp:\s+2$/m);
    },
  },
  // ---------------------------------------------------------------- network
  {
    id: "net-host-loopback",
    category: "network",
    title: "a service on the host's 127.0.0.1 is unreachable (own network namespace): ECONNREFUSED",
    async run(ctx) {
      const r = await py(
        ctx,
        `s = socket.socket()\ntry:\n  s.connect(("127.0.0.1", ${ctx.loopbackPort})); print("connected")\nexcept OSError as e: print("errno", e.errno)`,
      );
      expect(r.stdout.trim()).toBe(`errno ${111}`);
    },
  },
  {
    id: "net-metadata",
    category: "network",
    title: "the cloud metadata address 169.254.169.254 is unreachable: ENETUNREACH",
    async run(ctx) {
      const r = await py(
        ctx,
        `s = socket.socket()\ntry:\n  s.connect(("169.254.169.254", 80)); print("connected")\nexcept OSError as e: print("errno", e.errno)`,
      );
      expect(r.stdout.trim()).toBe("errno 101");
    },
  },
  {
    id: "net-public-ip",
    category: "network",
    title: "a public address (8.8.8.8:53) is unreachable: ENETUNREACH",
    async run(ctx) {
      const r = await py(
        ctx,
        `s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ntry:\n  s.sendto(b"x", ("8.8.8.8", 53)); print("sent")\nexcept OSError as e: print("errno", e.errno)`,
      );
      expect(r.stdout.trim()).toBe("errno 101");
    },
  },
  {
    id: "net-dns",
    category: "network",
    title: "DNS resolution fails (no resolver, no route)",
    async run(ctx) {
      const r = await sh(ctx, "getent hosts example.com; echo rc=$?");
      expect(r.stdout).toMatch(/^rc=2$/m);
    },
  },
  {
    id: "net-only-lo",
    category: "network",
    title: "the only interface is loopback",
    async run(ctx) {
      const r = await sh(ctx, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
      expect(r.stdout.trim()).toBe("lo");
    },
  },
  {
    id: "net-raw-socket",
    category: "network",
    title: "raw sockets are refused by seccomp (EPERM)",
    async run(ctx) {
      const r = await py(ctx, `sc(${ctx.nr.socket}, 2, 3, 1)`);
      expect(r.stdout.trim()).toBe("-1 1");
    },
  },
  {
    id: "net-packet-socket",
    category: "network",
    title: "AF_PACKET sockets are refused by seccomp (EPERM)",
    async run(ctx) {
      const r = await py(ctx, `sc(${ctx.nr.socket}, 17, 3, 0)`);
      expect(r.stdout.trim()).toBe("-1 1");
    },
  },
  {
    id: "net-unix-socket",
    category: "network",
    title: "new AF_UNIX sockets are refused by seccomp (EPERM)",
    async run(ctx) {
      const r = await py(ctx, `sc(${ctx.nr.socket}, 1, 1, 0)`);
      expect(r.stdout.trim()).toBe("-1 1");
    },
  },
  {
    id: "net-vsock",
    category: "network",
    title: "AF_VSOCK sockets (to the hypervisor) are refused by seccomp (EPERM)",
    async run(ctx) {
      const r = await py(ctx, `sc(${ctx.nr.socket}, 40, 1, 0)`);
      expect(r.stdout.trim()).toBe("-1 1");
    },
  },
  {
    id: "net-docker-socket",
    category: "network",
    title: "the Docker socket is not in the view",
    async run(ctx) {
      noSuchFile(await sh(ctx, "ls -l /var/run/docker.sock /run/docker.sock"));
    },
  },
  {
    id: "net-host-unix-socket",
    category: "network",
    title: "a host Unix socket service is not in the view",
    async run(ctx) {
      noSuchFile(await sh(ctx, `ls -l ${JSON.stringify(ctx.hostSocketPath)}`));
    },
  },
  // ---------------------------------------------------------------- resources
  {
    id: "res-memory-bomb",
    category: "resources",
    title: "a memory bomb is killed by the OOM killer and reported as oomKilled",
    async run(ctx) {
      const r = await sh(ctx, `awk 'BEGIN { s = "x"; while (1) s = s s }'`, 60_000);
      expect(r.oomKilled).toBe(true);
      expect(r.timedOut).toBe(false);
      expect(r.exitCode === 137 || r.signal === "SIGKILL").toBe(true);
    },
  },
  {
    id: "res-fork-bomb",
    category: "resources",
    title: "a fork bomb hits the process limit (fork fails with EAGAIN) and ends",
    async run(ctx) {
      const r = await sh(
        ctx,
        `i=0; while [ $i -lt ${ctx.limits.pids * 2} ]; do sleep 30 & i=$((i+1)); done; echo all-forked`,
        60_000,
      );
      expect(r.stdout).not.toContain("all-forked");
      expect(r.stderr).toMatch(/[Cc]an(no|')t fork|Resource temporarily unavailable/);
      expect(r.timedOut).toBe(false);
    },
  },
  {
    id: "res-disk-fill",
    category: "resources",
    title: "filling /tmp stops at its size: ENOSPC",
    async run(ctx) {
      const r = await sh(
        ctx,
        `head -c ${ctx.limits.tmpBytes * 2} /dev/zero > /tmp/fill; echo rc=$?; wc -c < /tmp/fill`,
      );
      expect(r.stderr).toMatch(/No space left on device/);
      expect(Number(r.stdout.trim().split("\n").pop())).toBeLessThanOrEqual(ctx.limits.tmpBytes);
    },
  },
  {
    id: "res-cpu-spin",
    category: "resources",
    title: "a CPU spin past the timeout is killed with its tree (timedOut, SIGKILL)",
    async run(ctx) {
      const r = await ctx.sandbox.exec("while :; do :; done", { timeoutMs: 300 });
      expect(r.timedOut).toBe(true);
      expect(r.signal).toBe("SIGKILL");
      expect(r.durationMs).toBeLessThan(5_000);
    },
  },
  {
    id: "res-output-flood",
    category: "resources",
    title: "an output flood is cut at the cap (truncated) and the command still ends",
    async run(ctx) {
      const r = await ctx.sandbox.exec("yes flood", { timeoutMs: 2_000, maxOutputBytes: 4096 });
      expect(r.truncated).toBe(true);
      expect(Buffer.byteLength(r.stdout)).toBe(4096);
    },
  },
  {
    id: "res-stdout-held-open",
    category: "resources",
    title: "a daemon holding stdout open after exit does not hold the result (the namespace dies with it)",
    async run(ctx) {
      const r = await ctx.sandbox.exec("setsid sh -c 'sleep 60' & echo done", { timeoutMs: 30_000 });
      expect(r.stdout).toBe("done\n");
      expect(r.timedOut).toBe(false);
      expect(r.durationMs).toBeLessThan(10_000);
    },
  },
  {
    id: "res-orphan",
    category: "resources",
    title: "an orphan (nohup, setsid) does not outlive the command",
    async run(ctx) {
      await ctx.sandbox.exec("nohup setsid sleep 27.1828 >/dev/null 2>&1 & echo started", {
        timeoutMs: 30_000,
      });
      await vi.waitFor(() => expect(findHostProcess("sleep", "27.1828")).toBeUndefined(), {
        timeout: 5_000,
        interval: 10,
      });
    },
  },
  // ---------------------------------------------------------------- environment
  {
    id: "env-host-secret",
    category: "environment",
    title: "a host environment secret is not passed in",
    async run(ctx) {
      const r = await sh(ctx, "env; cat /proc/1/environ | tr '\\0' '\\n'");
      expect(r.stdout).not.toContain(ctx.envSecret.value);
      expect(r.stdout).not.toContain(ctx.envSecret.name);
    },
  },
  {
    id: "env-minimal",
    category: "environment",
    title: "the environment is exactly PATH, HOME, LANG (and the shell's PWD)",
    async run(ctx) {
      const r = await sh(ctx, "env | cut -d= -f1 | sort | tr '\\n' ' '");
      expect(r.stdout.trim()).toBe("HOME LANG PATH PWD");
    },
  },
  {
    id: "env-fds",
    category: "environment",
    title: "no descriptor but stdin, stdout and stderr is inherited",
    async run(ctx) {
      const r = await sh(ctx, "ls /proc/self/fd");
      // ls itself opens one descriptor to read the folder.
      expect(
        r.stdout
          .trim()
          .split("\n")
          .map(Number)
          .filter((fd) => fd > 2).length,
      ).toBeLessThanOrEqual(1);
    },
  },
  // ---------------------------------------------------------------- signals
  {
    id: "sig-host-pid",
    category: "signals",
    title: "a host process running as the same uid cannot be signalled (not in the pid namespace)",
    async run(ctx) {
      const r = await sh(ctx, `kill -9 ${ctx.victimPid}; echo rc=$?`);
      expect(r.stdout).toMatch(/rc=[1-9]/);
      expect(r.stderr).toMatch(/No such process/);
      expect(isAlive(ctx.victimPid)).toBe(true);
    },
  },
  {
    id: "sig-kill-all",
    category: "signals",
    title: "kill -9 -1 reaches only the sandbox's own processes",
    async run(ctx) {
      await sh(ctx, "kill -9 -1; echo rc=$?");
      expect(isAlive(ctx.victimPid)).toBe(true);
      expect(isAlive(process.pid)).toBe(true);
    },
  },
  {
    id: "sig-parent",
    category: "signals",
    title:
      "the command's parent is the sandbox's init, which ignores SIGKILL from inside; Rein is not visible",
    async run(ctx) {
      const r = await sh(
        ctx,
        `echo ppid=$PPID; kill -9 $PPID; kill -9 1; echo survived; kill -0 ${process.pid}`,
      );
      expect(r.stdout).toMatch(/ppid=1\n/);
      expect(r.stdout).toContain("survived");
      if (process.pid > 10) expect(r.stderr).toMatch(/No such process/);
    },
  },
];

/** The host pid of a process whose argv is exactly [name, arg], or undefined. */
export function findHostProcess(name: string, arg: string): number | undefined {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      if (/\) Z /.test(stat)) continue; // a zombie runs nothing
      if (argv.length === 2 && path.basename(argv[0] ?? "") === name && argv[1] === arg) return Number(entry);
    } catch {}
  }
  return undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/**
 * A backend's own version of a probe, for an attack it stops by another mechanism than bubblewrap
 * (Docker's seccomp profile answers where bubblewrap's filter does, gVisor's kernel answers instead of
 * the host's): `run` asserts how it is stopped there, `why` says what differs.
 */
export interface ProbeOverride {
  readonly why: string;
  run(ctx: ProbeContext): Promise<void>;
}
