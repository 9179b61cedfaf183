import type { ResourceLimits } from "./cgroup.js";

/**
 * Where no cgroup can be created, `prlimit` (util-linux) sets rlimits on the launcher before it execs
 * bubblewrap; the command inherits them. Weaker than cgroups, and said so in `capabilities.limits`:
 * RLIMIT_AS caps each process's address space (an allocation fails with ENOMEM instead of an OOM kill,
 * so `oomKilled` stays false), RLIMIT_NPROC caps the processes of the sandbox's user. There is no CPU
 * bandwidth limit without cgroups (RLIMIT_CPU is CPU time, which the wall-clock timeout already bounds).
 */
export function prlimitArgv(limits: ResourceLimits): string[] {
  return ["prlimit", `--as=${limits.memoryBytes}`, `--nproc=${limits.pids}`, "--core=0", "--"];
}
