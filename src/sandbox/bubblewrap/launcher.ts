import { readdirSync, readFileSync } from "node:fs";

/**
 * How Rein starts bubblewrap. The common case (cgroup v1, or no cgroup, and no staging) is no step at
 * all: Node spawns bwrap itself, as the sandbox user (libuv drops from root before the exec), after
 * moving its own thread into the command's cgroups for the spawn (CommandCgroup.spawnInside), so bwrap
 * is born in them. The steps below run only where that cannot work, each exec'ing the next (one process
 * all the way): a shell that joins cgroup v2 (whose `cgroup.procs` moves whole processes, so it must be
 * the launched process itself that moves) or stages the workspace in a private mount namespace, rlimits
 * via prlimit where no cgroup can be made, and setpriv to drop from root after the root-only steps.
 */

/**
 * The shell step, when a cgroup v2 join or a private mount is needed. Arguments: the number of files
 * to write `0` (this process) into to join the cgroups and them, then optionally
 * `--mount MOUNT SRC DEST`, then the next argv. Exit status 125 means the launcher itself failed (it
 * prints why).
 */
const SCRIPT = [
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
  /** `cgroup.procs` files (cgroup v2) the shell step joins by writing 0 into them. */
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
  if (plan.cgroupProcs.length === 0 && !plan.stage) return tail;
  const shell = [
    "/bin/sh",
    "-c",
    SCRIPT,
    "rein-launch",
    String(plan.cgroupProcs.length),
    ...plan.cgroupProcs,
  ];
  if (plan.stage) shell.push("--mount", plan.stage.mount, plan.stage.source, plan.stage.target);
  shell.push(...tail);
  if (plan.stage) return [plan.stage.unshare, "--mount", "--propagation", "private", "--", ...shell];
  return shell;
}

/**
 * Descriptors Rein's process inherited without close-on-exec (from whoever started it) would reach every
 * program it spawns, and through bwrap the sandboxed command. They never do: the spawn puts a descriptor
 * of Rein's own at each of those numbers (libuv dup2s it over the inherited one in the child, before
 * the exec), /dev/null, which bwrap is told to read as an (empty) `--args` file; bwrap closes an
 * `--args` descriptor as soon as it has read it, while parsing its arguments, before any namespace
 * exists. So the inherited descriptor is gone from the first exec on, and its number from bwrap on.
 *
 * @returns the spawn `stdio` entries past `base` and bwrap's leading arguments.
 */
export function shadowInheritedFds(
  base: readonly unknown[],
  inherited: readonly number[],
  devNull: number,
): { stdio: unknown[]; bwrapArgs: string[] } {
  const stdio: unknown[] = [...base];
  const bwrapArgs: string[] = [];
  for (const fd of inherited) {
    if (fd < base.length) continue; // already replaced by one of Rein's own (stdio, seccomp, status)
    while (stdio.length < fd) stdio.push("ignore");
    stdio[fd] = devNull;
    bwrapArgs.push("--args", String(fd));
  }
  return { stdio, bwrapArgs };
}

const O_CLOEXEC = 0o2000000;

/** Descriptors above `keep` that this process would pass to a child (no O_CLOEXEC), from /proc/self/fdinfo. */
export function inheritableFds(keep = 2): number[] {
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
  return out.sort((a, b) => a - b);
}
