import type Docker from "dockerode";
import { bootId, pidNamespace, startTime } from "../owner-process.js";
import { connectEngine, type EngineOptions, engineError } from "./engine.js";

/**
 * Label naming the process that owns a container: `<boot id>/<pid namespace>/<pid>/<start time>`. The
 * boot id and the process's start time (clock ticks since boot, /proc/<pid>/stat) tell a live owner
 * from a pid the kernel has given to another process since; the pid namespace says whether this
 * process can see the owner at all.
 */
export const OWNER_LABEL = "dev.rein.owner";

/** This process's owner mark, for the label of every container it starts. */
export function ownerMark(pid: number = process.pid): string {
  return [bootId(), pidNamespace(), pid, startTime(pid) ?? "?"].join("/");
}

/**
 * Whether the owner of a container is gone: true when the machine rebooted since, or its pid is free
 * or another process's (another start time); false when it runs; undefined when this process cannot
 * tell (another pid namespace shares the engine, or the mark is not one of Rein's): such a container
 * is left alone.
 */
export function ownerGone(mark: string): boolean | undefined {
  const m = /^([0-9a-f-]{36})\/([^/]+)\/(\d+)\/(\d+)$/.exec(mark);
  if (!m) return undefined;
  const [, boot, ns, pid, start] = m;
  if (bootId() === "unknown") return undefined;
  if (boot !== bootId()) return true;
  if (ns !== pidNamespace()) return undefined;
  return startTime(Number(pid)) !== start;
}

export interface SweepResult {
  /** Ids of the containers removed: their owner is gone. */
  readonly removed: readonly string[];
  /** How many Rein containers were left: their owner runs, or this process cannot tell. */
  readonly kept: number;
}

/**
 * Removes the containers Rein started for a process that is gone (crashed, SIGKILLed, the machine
 * rebooted) and never disposed. A container whose owner runs, or whose owner this process cannot
 * see, is left alone.
 */
export async function sweepOrphans(docker: Docker): Promise<SweepResult> {
  let list: Docker.ContainerInfo[];
  try {
    list = await docker.listContainers({ all: true, filters: { label: [OWNER_LABEL] } });
  } catch (err) {
    throw engineError(err, "listing Rein's containers");
  }
  const removed: string[] = [];
  let kept = 0;
  for (const c of list) {
    const mark = c.Labels?.[OWNER_LABEL];
    if (mark === undefined || ownerGone(mark) !== true) {
      kept++;
      continue;
    }
    try {
      await docker.getContainer(c.Id).remove({ force: true, v: true });
      removed.push(c.Id);
    } catch {
      // Another process swept it first, or the engine refused: the next sweep tries again.
    }
  }
  return { removed, kept };
}

/**
 * Connects to the engine and sweeps it (`sweepOrphans`); what `rein sandbox sweep` runs. Every
 * DockerSandbox also sweeps once per process before its first container starts.
 *
 * @example
 * const { removed } = await sweepDockerOrphans();
 * console.log(`${removed.length} leftover containers removed`);
 */
export async function sweepDockerOrphans(options: EngineOptions = {}): Promise<SweepResult> {
  return sweepOrphans(await connectEngine(options));
}

const swept = new Map<string, Promise<unknown>>();

/**
 * Sweeps once per engine per process, before this process's first container starts there. A failed
 * sweep never stops a sandbox from starting.
 */
export function sweepOrphansOnce(docker: Docker, engine: string): Promise<unknown> {
  let done = swept.get(engine);
  if (!done) {
    done = sweepOrphans(docker).catch(() => undefined);
    swept.set(engine, done);
  }
  return done;
}
