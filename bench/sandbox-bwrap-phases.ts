/**
 * The bubblewrap cold start taken apart for `npm run bench -- sandbox`: the same command started with
 * each of Rein's steps added in turn, so the differences of their times say what each step costs.
 *
 * 1. raw bwrap: minimal namespaces (the baseline of the target).
 * 2. + Rein's bwrap arguments: the exact argument list BubblewrapSandbox builds (allowlisted binds, a
 *    generated /etc, a size-capped /tmp, a read-only root, the seccomp filter, the JSON status pipe),
 *    started straight as the sandbox user.
 * 3. + the launcher step: the shell that closes inherited descriptors and joins the command's cgroups
 *    (memory, pids, cpu), then execs bwrap, as BubblewrapSandbox starts it; one cgroup reused, as its pool does.
 * The remaining difference to `rein bubblewrap` is Node's side of `exec`: workspace scan (masks, and
 * ownership as root), the cgroup pool, the status pipe and supervision.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { BubblewrapSandbox } from "../dist/index.js";
import { bwrapArgs, SANDBOX_HOSTNAME } from "../dist/sandbox/bubblewrap/args.js";
import { buildEtc } from "../dist/sandbox/bubblewrap/etc.js";
import { findBubblewrap, findHelper } from "../dist/sandbox/bubblewrap/find-bwrap.js";
import { inheritableFds, launchArgv } from "../dist/sandbox/bubblewrap/launcher.js";
import { CommandCgroup, detectCgroupHost } from "../dist/sandbox/bubblewrap/limits/cgroup.js";
import { hostSeccompArch, seccompFilter } from "../dist/sandbox/bubblewrap/seccomp.js";

type Run = (argv: readonly string[]) => Promise<void>;

export interface PhaseSubjects {
  readonly args: Run;
  readonly launcher: Run;
  dispose(): Promise<void>;
}

/** Runs `argv` (prefixed) with the seccomp program on fd 3 and a status pipe on fd 4, as bwrap needs them. */
function bwrapRun(
  prefix: (argv: readonly string[]) => string[],
  seccompFile: string,
  as: { uid: number; gid: number } | undefined,
): Run {
  return (argv) =>
    new Promise((resolve, reject) => {
      const all = prefix(argv);
      const fd = fs.openSync(seccompFile, "r");
      let child: ReturnType<typeof spawn>;
      try {
        child = spawn(all[0]!, all.slice(1), {
          cwd: "/",
          env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" },
          detached: true,
          stdio: ["pipe", "pipe", "pipe", fd, "pipe"],
          ...as,
        });
      } finally {
        fs.closeSync(fd);
      }
      let open = 4;
      const done = () => --open === 0 && resolve();
      child.on("error", reject);
      child.stdin!.end();
      child.stdout!.resume().on("close", done);
      child.stderr!.resume().on("close", done);
      (child.stdio[4] as NodeJS.ReadableStream).resume().on("close", done);
      child.on("exit", (code) =>
        code === 0 ? done() : reject(new Error(`${all.slice(0, 3).join(" ")}… exited ${code}`)),
      );
    });
}

/** Subjects 2 and 3 for `sandbox` (a BubblewrapSandbox with every limit on); `stage` is a fresh folder. */
export async function bwrapPhaseSubjects(
  sandbox: BubblewrapSandbox,
  limits: { memoryBytes: number; pids: number; cpus: number; tmpBytes: number },
  stage: string,
): Promise<PhaseSubjects> {
  const arch = hostSeccompArch();
  if (!arch) throw new Error(`no seccomp syscall table for ${process.arch}`);
  const id = sandbox.identity;
  const as = process.getuid?.() === 0 ? { uid: id.uid, gid: id.gid } : undefined;
  fs.chmodSync(stage, 0o755);
  const seccompFile = path.join(stage, "seccomp.bpf");
  fs.writeFileSync(seccompFile, seccompFilter(arch, {}), { mode: 0o644 });
  buildEtc(path.join(stage, "etc"), {
    uid: id.uid,
    gid: id.gid,
    name: "sandbox",
    hostname: SANDBOX_HOSTNAME,
  });
  fs.writeFileSync(path.join(stage, "empty"), "", { mode: 0o444 });
  const bwrap = findBubblewrap();
  const args = (argv: readonly string[]) => [
    bwrap,
    ...bwrapArgs({
      workspace: sandbox.workspace,
      workspaceSource: sandbox.workspace,
      cwd: sandbox.workspace,
      uid: id.uid,
      gid: id.gid,
      env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: "/tmp", LANG: "C.UTF-8" },
      tmpBytes: limits.tmpBytes,
      masks: [],
      seccompFd: 3,
      statusFd: 4,
      etcDir: path.join(stage, "etc"),
      emptyFile: path.join(stage, "empty"),
      argv,
    }),
  ];
  const host = detectCgroupHost();
  const cgroup = host ? await CommandCgroup.create(host, limits, as) : undefined;
  const closeFds = inheritableFds();
  const bash = findHelper("bash");
  const launched = (argv: readonly string[]) => {
    const [file, ...rest] = args(argv);
    return launchArgv({
      closeFds,
      bash,
      cgroupProcs: cgroup?.joinFiles ?? [],
      bwrap: file!,
      bwrapArgs: rest,
    });
  };
  return {
    args: bwrapRun(args, seccompFile, as),
    launcher: bwrapRun(launched, seccompFile, as),
    dispose: async () => {
      await cgroup?.remove();
    },
  };
}
