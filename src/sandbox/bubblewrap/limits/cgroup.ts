import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { pidNamespace, startTime } from "../../owner-process.js";
import type { SandboxLimit } from "../../sandbox.js";

/** The resource limits of one command. */
export interface ResourceLimits {
  readonly memoryBytes: number;
  readonly pids: number;
  /** CPU bandwidth in CPUs (0.5 = half a core), enforced as a CFS quota. */
  readonly cpus: number;
}

const CPU_PERIOD_US = 100_000;
const ROOT = "/sys/fs/cgroup";

/**
 * Where Rein may create cgroups: one folder per controller under this process's own cgroup (v1, as on
 * hosts with the legacy hierarchy), or one folder with the controllers enabled (v2). Detected by really
 * creating a probe cgroup and writing its limits, so `capabilities.limits` names what holds here.
 */
export interface CgroupHost {
  readonly version: 1 | 2;
  /** Parent folder per limit it can enforce; for v2 all point at the same folder. */
  readonly parents: Partial<Record<"memory" | "pids" | "cpu", string>>;
}

/** The limits a cgroup host enforces. */
export function cgroupLimits(host: CgroupHost | undefined): SandboxLimit[] {
  if (!host) return [];
  return (["memory", "pids", "cpu"] as const).filter((c) => host.parents[c] !== undefined);
}

function ownCgroups(file = "/proc/self/cgroup"): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [, controllers, p] = line.split(":");
    if (controllers === undefined || p === undefined) continue;
    for (const c of controllers === "" ? [""] : controllers.split(",")) out.set(c, p);
  }
  return out;
}

/** The calling thread's cgroup per controller (it may differ from the process's). */
function threadCgroups(): Map<string, string> {
  return ownCgroups("/proc/thread-self/cgroup");
}

/**
 * The name of this process's folder under each controller: `rein-<pid>-<start time>-<pid namespace>`,
 * so a later process can tell a leftover of a process that is gone (sweepStaleCgroups) from the folder
 * of one that runs, even after the kernel has given the pid to another process.
 */
function ownFolderName(): string {
  const start = startTime(process.pid);
  const ns = pidNamespace();
  return start === undefined || ns === "unknown"
    ? `rein-${process.pid}`
    : `rein-${process.pid}-${start}-${ns}`;
}

/** Creates `<dir>/<ownFolderName>` and checks a limit file can be written in a child of it; undefined if not. */
function probeParent(base: string, write: (dir: string) => void): string | undefined {
  const parent = path.join(base, ownFolderName());
  const probe = path.join(parent, `probe-${randomBytes(4).toString("hex")}`);
  try {
    mkdirSync(parent, { recursive: true });
    mkdirSync(probe);
    try {
      write(probe);
    } finally {
      rmdirSync(probe);
    }
    return parent;
  } catch {
    return undefined;
  }
}

let detected: { host: CgroupHost | undefined } | undefined;

/**
 * Detects which controllers this process may use (once per process); undefined when none (not root,
 * read-only cgroupfs). The parent folders are removed when the process exits.
 */
export function detectCgroupHost(): CgroupHost | undefined {
  if (!detected) {
    const host = detect();
    detected = { host };
    if (host) {
      process.once("exit", () => removeParents(host));
    }
  }
  return detected.host;
}

/**
 * Removes this process's cgroup folders: first the per-command ones left idle in the pool (a folder
 * with children cannot be removed), then the parents. Folders that still hold a process stay.
 */
export function removeParents(host: CgroupHost): void {
  for (const p of new Set(Object.values(host.parents))) {
    let children: string[] = [];
    try {
      children = readdirSync(p, { withFileTypes: true })
        .filter((e) => e.isDirectory() && e.name.startsWith("cmd-"))
        .map((e) => path.join(p, e.name));
    } catch {}
    for (const child of children) {
      try {
        rmdirSync(child);
      } catch {}
    }
    try {
      rmdirSync(p);
    } catch {}
  }
}

function detect(): CgroupHost | undefined {
  if (process.platform !== "linux" || !existsSync(ROOT)) return undefined;
  const own = ownCgroups();
  sweepCgroupLeftovers(own);
  const v1 = (c: "memory" | "pids" | "cpu", file: string, value: string) => {
    const rel = own.get(c);
    const base = path.join(ROOT, c);
    if (rel === undefined || !existsSync(path.join(base, "cgroup.procs"))) return undefined;
    return probeParent(path.join(base, rel), (d) => writeFileSync(path.join(d, file), value));
  };
  const parents: CgroupHost["parents"] = {
    memory: v1("memory", "memory.limit_in_bytes", String(64 * 1024 * 1024)),
    pids: v1("pids", "pids.max", "64"),
    cpu: v1("cpu", "cpu.cfs_quota_us", String(CPU_PERIOD_US)),
  };
  if (parents.memory || parents.pids || parents.cpu) return { version: 1, parents: prune(parents) };

  // v2: the unified hierarchy at /sys/fs/cgroup with the controllers delegated to our subtree.
  const rel = own.get("");
  if (rel === undefined || !existsSync(path.join(ROOT, "cgroup.controllers"))) return undefined;
  const base = path.join(ROOT, rel);
  const parent = path.join(base, ownFolderName());
  try {
    mkdirSync(parent, { recursive: true });
    writeFileSync(path.join(parent, "cgroup.subtree_control"), "+memory +pids +cpu");
  } catch {
    try {
      rmdirSync(parent);
    } catch {}
    return undefined;
  }
  const enabled = readFileSync(path.join(parent, "cgroup.subtree_control"), "utf8").split(/\s+/);
  const v2: CgroupHost["parents"] = {};
  if (enabled.includes("memory")) v2.memory = parent;
  if (enabled.includes("pids")) v2.pids = parent;
  if (enabled.includes("cpu")) v2.cpu = parent;
  return { version: 2, parents: v2 };
}

/** What a sweep of leftover cgroup folders did. */
export interface CgroupSweepResult {
  /** Folders removed (a per-process folder and the per-command folders in it): their process is gone. */
  readonly removed: readonly string[];
  /**
   * Rein folders left in place: their process runs, lives in another pid namespace, or a folder still
   * holds a process or something that is not Rein's.
   */
  readonly kept: number;
}

const FOLDER = /^rein-(\d+)(?:-(\d+)-(\d+))?$/;

/**
 * Whether the process a `rein-…` folder was made for is gone: its pid now names no process, or another
 * one (another start time). A folder of another pid namespace is never gone (this process cannot see
 * its owner); an old-style `rein-<pid>` folder is gone only when no process has that pid.
 */
export function cgroupOwnerGone(name: string): boolean {
  const m = FOLDER.exec(name);
  if (!m) return false;
  const [, pid, start, ns] = m;
  if (Number(pid) === process.pid && (start === undefined || start === startTime(process.pid))) return false;
  if (start === undefined) return startTime(Number(pid)) === undefined;
  if (ns !== pidNamespace()) return false;
  return startTime(Number(pid)) !== start;
}

/**
 * Removes the cgroup folders that Rein processes now gone (crashed, SIGKILLed: no exit handler ran)
 * left under `bases`: each one's idle per-command folders, then the folder itself. The kernel refuses
 * to remove a cgroup that still holds a process, so such a folder stays and is counted as kept. Every
 * sandbox process sweeps once, when it first detects its cgroups; `rein sandbox sweep` does it on demand.
 */
export function sweepStaleCgroups(bases: readonly string[]): CgroupSweepResult {
  const removed: string[] = [];
  let kept = 0;
  for (const base of bases) {
    let names: string[];
    try {
      names = readdirSync(base, { withFileTypes: true })
        .filter((e) => e.isDirectory() && FOLDER.test(e.name))
        .map((e) => e.name);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!cgroupOwnerGone(name)) {
        kept++;
        continue;
      }
      const dir = path.join(base, name);
      let children: string[] = [];
      try {
        children = readdirSync(dir, { withFileTypes: true })
          .filter((e) => e.isDirectory() && /^(cmd|probe)-[0-9a-f]+$/.test(e.name))
          .map((e) => e.name);
      } catch {}
      for (const child of children) {
        try {
          rmdirSync(path.join(dir, child));
        } catch {}
      }
      try {
        rmdirSync(dir);
        removed.push(dir);
      } catch {
        kept++;
      }
    }
  }
  return { removed, kept };
}

/**
 * Sweeps the folders this process's cgroups may hold leftovers in (every controller's, v1; the unified
 * hierarchy's, v2): what `rein sandbox sweep` runs. Nothing on a host without cgroups.
 *
 * @example
 * const { removed } = sweepCgroupLeftovers();
 * console.log(`${removed.length} leftover cgroup folders removed`);
 */
export function sweepCgroupLeftovers(own?: Map<string, string>): CgroupSweepResult {
  if (process.platform !== "linux" || !existsSync(ROOT)) return { removed: [], kept: 0 };
  own ??= ownCgroups();
  const bases: string[] = [];
  for (const c of ["memory", "pids", "cpu"]) {
    const rel = own.get(c);
    if (rel !== undefined && existsSync(path.join(ROOT, c, "cgroup.procs")))
      bases.push(path.join(ROOT, c, rel));
  }
  const unified = own.get("");
  if (unified !== undefined && existsSync(path.join(ROOT, "cgroup.controllers")))
    bases.push(path.join(ROOT, unified));
  return sweepStaleCgroups(bases);
}

function prune(p: CgroupHost["parents"]): CgroupHost["parents"] {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined));
}

/** The cgroup(s) of one command: created with its limits before it starts, removed after. */
export class CommandCgroup {
  /** The cgroups' member lists (read to kill and to check emptiness). */
  readonly procsFiles: string[];
  /**
   * v1: the `tasks` files; spawnInside writes `0` into them to move the calling thread (only it) in.
   * v2: the `cgroup.procs` files the launcher's shell step writes `0` into, moving itself in before it
   * execs bubblewrap.
   */
  readonly joinFiles: string[];
  readonly #dirs: string[];
  /** A controller of each folder (v1: one hierarchy per folder), to find the way back in spawnInside. */
  readonly #controllers: string[];
  /**
   * spawnInside's `tasks` files, kept open (close-on-exec) from its first use to remove(): a write to an
   * open descriptor costs half of an open, a write and a close (the path walk through cgroupfs is the rest).
   */
  readonly #joinFds: (number | undefined)[] = [];

  private constructor(
    readonly host: CgroupHost,
    dirs: string[],
  ) {
    this.#dirs = dirs;
    this.#controllers = dirs.map(
      (d) => Object.entries(host.parents).find(([, p]) => p === path.dirname(d))?.[0] ?? "",
    );
    this.procsFiles = dirs.map((d) => path.join(d, "cgroup.procs"));
    this.joinFiles = dirs.map((d) => path.join(d, host.version === 1 ? "tasks" : "cgroup.procs"));
  }

  static async create(host: CgroupHost, limits: ResourceLimits): Promise<CommandCgroup> {
    const name = `cmd-${randomBytes(6).toString("hex")}`;
    const dirs = [...new Set(Object.values(host.parents))].map((p) => path.join(p, name));
    const cg = new CommandCgroup(host, dirs);
    try {
      for (const d of dirs) await fs.mkdir(d);
      await cg.#apply(limits);
    } catch (err) {
      await cg.remove();
      throw err;
    }
    return cg;
  }

  /**
   * cgroup v1: runs `start`, which must fork synchronously (child_process.spawn), with the calling
   * thread moved into this cgroup, so the child is born in it: every process of the command is limited
   * from its first instruction, with no launcher step to join for it. Only the calling thread moves
   * (writing `0` to v1's `tasks` moves the writer alone, without the global threadgroup lock whose RCU
   * grace period makes moving another process cost milliseconds), and it moves back before this
   * returns; the writes are synchronous, so no other JavaScript runs meanwhile. Pages the process
   * faults in during that window are charged here; the kernel keeps them with the cgroup's parent when it is removed.
   *
   * If the thread cannot move back, whatever `start` started is killed and this throws.
   */
  spawnInside<T>(start: () => T): T {
    if (this.host.version !== 1) throw new Error("spawnInside needs cgroup v1");
    const home = threadCgroups();
    const back = this.#controllers.map((c) => {
      const rel = home.get(c);
      if (rel === undefined) throw new Error(`cannot tell this thread's ${c} cgroup`);
      return path.join(ROOT, c, rel, "tasks");
    });
    let moved = 0;
    let failed: unknown;
    try {
      for (let i = 0; i < this.joinFiles.length; i++) {
        this.#joinFds[i] ??= openSync(this.joinFiles[i]!, "w");
        writeSync(this.#joinFds[i]!, "0");
        moved++;
      }
      return start();
    } finally {
      for (let i = 0; i < moved; i++) {
        try {
          writeHome(back[i]!);
        } catch (err) {
          failed ??= err;
        }
      }
      if (failed !== undefined) {
        this.killAll();
        // biome-ignore lint/correctness/noUnsafeFinally: a thread stuck in a command's cgroup must not go unnoticed
        throw new Error(`could not move this thread back out of ${this.#dirs[0]}: ${String(failed)}`);
      }
    }
  }

  #dir(controller: "memory" | "pids" | "cpu"): string | undefined {
    const parent = this.host.parents[controller];
    return parent && this.#dirs.find((d) => path.dirname(d) === parent);
  }

  async #apply(l: ResourceLimits): Promise<void> {
    const w = (dir: string | undefined, file: string, value: string) =>
      dir ? fs.writeFile(path.join(dir, file), value) : Promise.resolve();
    const mem = this.#dir("memory");
    const pids = this.#dir("pids");
    const cpu = this.#dir("cpu");
    const quota = String(Math.max(1000, Math.round(l.cpus * CPU_PERIOD_US)));
    if (this.host.version === 1) {
      await w(mem, "memory.limit_in_bytes", String(l.memoryBytes));
      // No swap: memory+swap gets the same ceiling, so the limit cannot be dodged by swapping out.
      if (mem && existsSync(path.join(mem, "memory.memsw.limit_in_bytes")))
        await w(mem, "memory.memsw.limit_in_bytes", String(l.memoryBytes));
      await w(pids, "pids.max", String(l.pids));
      await w(cpu, "cpu.cfs_period_us", String(CPU_PERIOD_US));
      await w(cpu, "cpu.cfs_quota_us", quota);
    } else {
      await w(mem, "memory.max", String(l.memoryBytes));
      if (mem && existsSync(path.join(mem, "memory.swap.max"))) await w(mem, "memory.swap.max", "0");
      await w(pids, "pids.max", String(l.pids));
      await w(cpu, "cpu.max", `${quota} ${CPU_PERIOD_US}`);
    }
  }

  /** How many processes the kernel's OOM killer killed in this cgroup so far (compare before and after a command). */
  oomKills(): number {
    const mem = this.#dir("memory");
    if (!mem) return 0;
    try {
      const file = this.host.version === 1 ? "memory.oom_control" : "memory.events";
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(path.join(mem, file), "utf8"));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  /** Some process (or thread) is still attached to one of its folders: not reusable yet. */
  hasTasks(): boolean {
    return this.procsFiles.some((f) => {
      try {
        return readFileSync(f, "utf8").trim() !== "";
      } catch {
        return true;
      }
    });
  }

  /**
   * The pids controller still counts processes that are gone from its member list: zombies not reaped
   * yet. bubblewrap's monitor exits as soon as the command does, so the sandbox's init (bwrap's pid 1)
   * is reaped by the host's init, which may take its time (seconds on some VMs). A cgroup reused then
   * would start the next command with that many fewer processes allowed (and, repeated, with none:
   * "Can't fork for pid 1"), so its pids folder is replaced first (renewPids).
   */
  pidsLingering(): boolean {
    const i = this.#controllers.indexOf("pids");
    if (i < 0) return false;
    try {
      return readFileSync(path.join(this.#dirs[i]!, "pids.current"), "utf8").trim() !== "0";
    } catch {
      return true;
    }
  }

  /**
   * Swaps the pids folder for a fresh one with the same limit and removes the old one (the kernel
   * allows that while it only counts zombies; their count goes with it). A pids folder is cheap to make,
   * unlike a memory cgroup, which is why the memory and cpu folders are reused as they are.
   */
  async renewPids(limits: ResourceLimits): Promise<void> {
    const i = this.#controllers.indexOf("pids");
    const parent = this.host.parents.pids;
    if (i < 0 || !parent) return;
    const old = this.#dirs[i]!;
    const dir = path.join(parent, `cmd-${randomBytes(6).toString("hex")}`);
    await fs.mkdir(dir);
    try {
      await fs.writeFile(path.join(dir, "pids.max"), String(limits.pids));
    } catch (err) {
      await fs.rmdir(dir).catch(() => {});
      throw err;
    }
    this.#closeJoinFd(i);
    this.#dirs[i] = dir;
    this.procsFiles[i] = path.join(dir, "cgroup.procs");
    this.joinFiles[i] = path.join(dir, this.host.version === 1 ? "tasks" : "cgroup.procs");
    await removeDir(old);
  }

  /** SIGKILLs every process in the cgroup (synchronously: it runs from kill paths). Never this one. */
  killAll(): void {
    for (const file of this.procsFiles) {
      let pids: string[];
      try {
        pids = readFileSync(file, "utf8").split("\n").filter(Boolean);
      } catch {
        continue;
      }
      for (const pid of pids) {
        if (Number(pid) === process.pid) continue;
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {}
      }
    }
  }

  #closeJoinFd(i: number): void {
    const fd = this.#joinFds[i];
    this.#joinFds[i] = undefined;
    if (fd !== undefined) closeSync(fd);
  }

  /** Kills what is left and removes the folders; a process still exiting is waited for briefly. */
  async remove(): Promise<void> {
    for (let i = 0; i < this.#joinFds.length; i++) this.#closeJoinFd(i);
    for (let attempt = 0; attempt < 50; attempt++) {
      this.killAll();
      let busy = false;
      for (const d of this.#dirs) {
        try {
          await fs.rmdir(d);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") busy = true;
        }
      }
      if (!busy) return;
      // Killed processes leave the cgroup as the kernel reaps them; give it a moment, then retry.
      await new Promise((r) => setTimeout(r, 2 * (attempt + 1)));
    }
  }
}

/**
 * The `tasks` files spawnInside moves the thread back through (the cgroups this process runs in), open
 * for the process's lifetime: a handful, one per controller (more only if someone moves this process
 * to other cgroups meanwhile, and then never more than HOME_FDS).
 */
const homeFds = new Map<string, number>();
const HOME_FDS = 16;

/** Moves the calling thread into the cgroup of `tasksFile` (written `0`); a kept descriptor that fails is reopened once. */
function writeHome(tasksFile: string): void {
  const kept = homeFds.get(tasksFile);
  if (kept !== undefined) {
    try {
      writeSync(kept, "0");
      return;
    } catch {
      homeFds.delete(tasksFile);
      closeSync(kept);
    }
  }
  if (homeFds.size >= HOME_FDS) {
    for (const old of homeFds.values()) closeSync(old);
    homeFds.clear();
  }
  const fd = openSync(tasksFile, "w");
  homeFds.set(tasksFile, fd);
  writeSync(fd, "0");
}

/** Removes an empty cgroup folder, retrying briefly while the kernel still counts it as busy. */
async function removeDir(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await fs.rmdir(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    }
    await new Promise((r) => setTimeout(r, 2 * (attempt + 1)));
  }
}
