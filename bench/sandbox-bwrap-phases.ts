/**
 * The bubblewrap cold start taken apart for `npm run bench -- sandbox`: the same command started with
 * each of Rein's steps added in turn, so the differences of their times say what each step costs.
 *
 * 1. raw bwrap: minimal namespaces (the baseline of the target).
 * 2. + Rein's bwrap arguments: the exact argument list BubblewrapSandbox builds (allowlisted binds, a
 *    generated /etc, a size-capped /tmp, a read-only root, the seccomp filter, the JSON status pipe),
 *    started straight as the sandbox user.
 * 3. + the cgroups: the same bwrap, born in the command's cgroups (memory, pids, cpu) the way
 *    BubblewrapSandbox starts it on cgroup v1: Node's thread moves into them for the spawn and back
 *    (CommandCgroup.spawnInside), inherited descriptors shadowed by /dev/null read as `--args`; two
 *    cgroups taking turns, the pids folder of the one just used renewed (while zombies linger) once
 *    the next command has started, as its pool does. On cgroup v2 the sandbox joins through a shell
 *    step instead (launchArgv), and this row measures that.
 * The remaining difference to `rein bubblewrap` is Node's side of `exec`: workspace scan (masks, and
 * ownership as root), the cgroup pool, the status pipe and supervision.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { BubblewrapSandbox } from "../dist/index.js";
import { bwrapArgs, SANDBOX_HOSTNAME } from "../dist/sandbox/bubblewrap/args.js";
import { buildEtc } from "../dist/sandbox/bubblewrap/etc.js";
import { findBubblewrap } from "../dist/sandbox/bubblewrap/find-bwrap.js";
import { inheritableFds, launchArgv, shadowInheritedFds } from "../dist/sandbox/bubblewrap/launcher.js";
import { CommandCgroup, detectCgroupHost } from "../dist/sandbox/bubblewrap/limits/cgroup.js";
import { hostSeccompArch, seccompFilter } from "../dist/sandbox/bubblewrap/seccomp.js";

type Run = (argv: readonly string[]) => Promise<void>;

export interface PhaseSubjects {
  readonly args: Run;
  readonly cgroups: Run;
  dispose(): Promise<void>;
}

interface RunOptions {
  readonly as?: { uid: number; gid: number };
  /** Descriptors the spawn shadows (shadowInheritedFds) and bwrap reads as `--args`. */
  readonly inherited?: readonly number[];
  readonly devNull?: number;
  /** Before each run. */
  readonly before?: () => Promise<void>;
  /** Wraps the synchronous spawn (CommandCgroup.spawnInside). */
  readonly around?: <T>(start: () => T) => T;
  /** Once the command is started (the pool's pids renewal of the last command's cgroup). */
  readonly started?: () => void;
}

/** Runs `argv` (prefixed) with the seccomp program on fd 3 and a status pipe on fd 4, as bwrap needs them. */
function bwrapRun(
  prefix: (argv: readonly string[], extra: readonly string[]) => string[],
  seccompFile: string,
  o: RunOptions,
): Run {
  return async (argv) => {
    await o.before?.();
    await new Promise<void>((resolve, reject) => {
      const fds = shadowInheritedFds(
        ["pipe", "pipe", "pipe", -1, "pipe"],
        o.inherited ?? [],
        o.devNull ?? -1,
      );
      const all = prefix(argv, fds.bwrapArgs);
      const fd = fs.openSync(seccompFile, "r");
      fds.stdio[3] = fd;
      let child: ReturnType<typeof spawn>;
      try {
        const start = () =>
          spawn(all[0]!, all.slice(1), {
            cwd: "/",
            env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" },
            detached: true,
            stdio: fds.stdio as ("pipe" | "ignore" | number)[],
            ...o.as,
          });
        child = o.around ? o.around(start) : start();
      } finally {
        fs.closeSync(fd);
      }
      o.started?.();
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
  };
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
  const args = (argv: readonly string[], extra: readonly string[]) => [
    bwrap,
    ...extra,
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
  // Two cgroups taking turns, as BubblewrapSandbox's pool does when commands run one after another.
  const pool = host
    ? [await CommandCgroup.create(host, limits), await CommandCgroup.create(host, limits)]
    : [];
  const renewals = new Map<CommandCgroup, Promise<void>>();
  let turn = 0;
  const cgroup = pool[0];
  const current = () => pool[turn % pool.length]!;
  const inherited = inheritableFds();
  const devNull = fs.openSync("/dev/null", "r");
  // cgroup v1: born in the cgroups (spawnInside); v2: the shell step joins (and setpriv drops, as root).
  const v2 = cgroup?.host.version === 2;
  const inCgroups = (argv: readonly string[], extra: readonly string[]) => {
    if (!v2) return args(argv, extra);
    const [file, ...rest] = args(argv, extra);
    return launchArgv({
      cgroupProcs: current().joinFiles,
      drop: as ? { setpriv: "/usr/bin/setpriv", ...as } : undefined,
      bwrap: file!,
      bwrapArgs: rest,
    });
  };
  return {
    args: bwrapRun(args, seccompFile, { as, inherited, devNull }),
    cgroups: bwrapRun(inCgroups, seccompFile, {
      as: v2 ? undefined : as,
      inherited,
      devNull,
      before: async () => {
        turn++;
        if (cgroup) await renewals.get(current());
      },
      around: cgroup && !v2 ? (start) => current().spawnInside(start) : undefined,
      started: () => {
        const last = pool[(turn - 1) % pool.length];
        if (!last || last.hasTasks() || !last.pidsLingering()) return;
        renewals.set(last, last.renewPids(limits));
      },
    }),
    dispose: async () => {
      fs.closeSync(devNull);
      await Promise.all(renewals.values());
      for (const cg of pool) await cg.remove();
    },
  };
}
