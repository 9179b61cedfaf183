import { readFileSync, readlinkSync } from "node:fs";

/**
 * Who owns a leftover (a Docker container, a cgroup folder): a process named by its pid, its start
 * time and its pid namespace, so a pid the kernel has since given to another process is not taken for
 * the owner, and an owner this process cannot see (another pid namespace) is never taken for gone.
 */

let boot: string | undefined;

/** This boot's id; `"unknown"` without /proc (marks of this host then never parse, so nothing is swept). */
export function bootId(): string {
  try {
    boot ??= readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    boot = "unknown";
  }
  return boot;
}

/** The inode number of this process's pid namespace, as digits; `"unknown"` without /proc. */
export function pidNamespace(): string {
  try {
    return readlinkSync("/proc/self/ns/pid").replace(/[^0-9]/g, "");
  } catch {
    return "unknown";
  }
}

/**
 * Field 22 of /proc/<pid>/stat (clock ticks after boot; read after the command name, which may hold
 * spaces and parentheses); undefined when no process has that pid.
 */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}
