import { readFileSync } from "node:fs";

/**
 * How many times the kernel's OOM killer struck in a container's memory cgroup, read from the host
 * (cgroup v1 `memory.oom_control`, v2 `memory.events`), for the cgroupfs and systemd drivers; 0 when
 * none of those paths is readable (another host layout, or Rein without access to /sys/fs/cgroup).
 */
export function readOomKills(containerId: string): number {
  for (const file of [
    `/sys/fs/cgroup/memory/docker/${containerId}/memory.oom_control`,
    `/sys/fs/cgroup/memory/system.slice/docker-${containerId}.scope/memory.oom_control`,
    `/sys/fs/cgroup/docker/${containerId}/memory.events`,
    `/sys/fs/cgroup/system.slice/docker-${containerId}.scope/memory.events`,
  ]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const m = /^oom_kill (\d+)$/m.exec(text);
    if (m) return Number(m[1]);
  }
  return 0;
}
