import { readdirSync, readFileSync } from "node:fs";

/**
 * The few steps between Rein and bubblewrap, as one argv (each step execs the next, so it is one
 * process all the way): join the command's cgroups, make a private mount namespace with the workspace
 * staged where the sandbox user can reach it, set rlimits, drop from root to the sandbox user, exec bwrap.
 * Each step is an exec on the critical path of every command, so only the needed ones are there: as
 * root on cgroup v1 without staging, Node's spawn drops to the sandbox user itself (setgroups, setgid,
 * setuid before the exec) and the shell step joins cgroups whose `tasks` files that user owns.
 */

/**
 * The shell step, when cgroups, a private mount or closing descriptors are needed. Arguments: the
 * number of descriptors to close and them, the number of files to write `0` (this process) into to
 * join the cgroups and them, then optionally
 * `--mount MOUNT SRC DEST`, then the next argv. bash, not dash, when descriptors above 9 must be closed
 * (dash only parses one-digit descriptors). Exit status 125 means the
 * launcher itself failed (it prints why).
 */
const SCRIPT = [
  'n=$1; shift; while [ "$n" -gt 0 ]; do eval "exec $1>&-"; shift; n=$((n-1)); done',
  'n=$1; shift; while [ "$n" -gt 0 ]; do',
  '  echo 0 > "$1" || { echo "rein-launch: cannot join cgroup $1" >&2; exit 125; }',
  "  shift; n=$((n-1))",
  "done",
  'if [ "$1" = "--mount" ]; then',
  '  "$2" --bind -- "$3" "$4" || { echo "rein-launch: cannot stage the workspace" >&2; exit 125; }',
  "  shift 4",
  "fi",
  'exec "$@"',
].join("\n");

export const LAUNCH_FAILED_EXIT = 125;

export interface LaunchPlan {
  /**
   * Descriptors this process holds without close-on-exec (inherited from whoever started Rein): every
   * program Rein spawns would inherit them, so the launcher closes them before anything else runs.
   */
  readonly closeFds: readonly number[];
  readonly bash: string;
  /** `tasks` (v1) or `cgroup.procs` (v2) files the launcher joins by writing 0 into them. */
  readonly cgroupProcs: readonly string[];
  /** Bind `source` to `stage` in a private mount namespace (needs `unshare` and `mount`). */
  readonly stage?: {
    readonly unshare: string;
    readonly mount: string;
    readonly source: string;
    readonly target: string;
  };
  /** rlimits (prlimit argv ending in "--"). */
  readonly prlimit?: readonly string[];
  /** Drop from root with setpriv (when spawn cannot: staging and cgroup v2 need root first). */
  readonly drop?: { readonly setpriv: string; readonly uid: number; readonly gid: number };
  readonly bwrap: string;
  readonly bwrapArgs: readonly string[];
}

/** The argv to spawn: [file, ...args]. */
export function launchArgv(plan: LaunchPlan): string[] {
  const tail: string[] = [];
  if (plan.prlimit) tail.push(...plan.prlimit);
  if (plan.drop) {
    tail.push(
      plan.drop.setpriv,
      `--reuid=${plan.drop.uid}`,
      `--regid=${plan.drop.gid}`,
      "--clear-groups",
      "--inh-caps=-all",
      "--bounding-set=-all",
      "--no-new-privs",
      "--",
    );
  }
  tail.push(plan.bwrap, ...plan.bwrapArgs);
  if (plan.cgroupProcs.length === 0 && !plan.stage && plan.closeFds.length === 0) return tail;
  const shell = [
    // bash sources ~/.bashrc when its stdin is a socket (as Node's pipes are) unless told not to.
    ...(plan.closeFds.some((fd) => fd > 9) ? [plan.bash, "--norc", "--noprofile"] : ["/bin/sh"]),
    "-c",
    SCRIPT,
    "rein-launch",
    String(plan.closeFds.length),
    ...plan.closeFds.map(String),
    String(plan.cgroupProcs.length),
    ...plan.cgroupProcs,
  ];
  if (plan.stage) shell.push("--mount", plan.stage.mount, plan.stage.source, plan.stage.target);
  shell.push(...tail);
  if (plan.stage) return [plan.stage.unshare, "--mount", "--propagation", "private", "--", ...shell];
  return shell;
}

const O_CLOEXEC = 0o2000000;

/** Descriptors above `keep` that this process would pass to a child (no O_CLOEXEC), from /proc/self/fdinfo. */
export function inheritableFds(keep = 4): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = readdirSync("/proc/self/fd");
  } catch {
    return out;
  }
  for (const name of names) {
    const fd = Number(name);
    if (!(fd > keep)) continue;
    try {
      const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
      if (flags && (Number.parseInt(flags[1] ?? "0", 8) & O_CLOEXEC) === 0) out.push(fd);
    } catch {} // closed meanwhile (the readdir's own descriptor, for one)
  }
  return out;
}
