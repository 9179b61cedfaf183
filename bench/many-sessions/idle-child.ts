/**
 * What idle sessions cost, in a fresh process that never ran them all at once:
 * `node --expose-gc bench/many-sessions/idle-child.ts <sessions> <calls> <batch> <workdir>`. Prints
 * one JSON line (`IdleSessionsReport`).
 *
 * An idle session exists, has run (its history holds `calls` tool calls and their results, its
 * events are in the harness's event log, its audit trail is sealed for the run) and waits for its
 * next run, not closed. The sessions are brought to idle `batch` at a time (each batch runs
 * concurrently, with a model that answers at once), so the process's peak is one batch, not all of
 * them: the memory measured is what the idle sessions hold, not the allocator's and V8's slack
 * from a peak (`child.ts` reports that figure, after all sessions ran at once).
 *
 * Memory is read after a memory-reducing full gc (`gc({ flavor: "last-resort" })`: V8 compacts and
 * releases its free pages, what its memory reducer does once a process idles), minus the same read
 * before the sessions; the RSS after a plain `gc()` (free pages still committed) is reported too.
 * Half the sessions are measured first, then all: the second half over its count is the marginal
 * cost of one more idle session, without the one-off costs of the first ones (the audit writer
 * thread's heap reaching its working size, V8's and the allocator's pools).
 */
import { getHeapSpaceStatistics } from "node:v8";
import { scenarioHarness } from "./scenario.ts";

export interface IdleMemory {
  /** RSS after a memory-reducing gc, minus before, over the sessions. */
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /**
   * `heapUsedBytes` without the code spaces and the trusted space (machine code, bytecode and their
   * metadata): the objects the sessions hold. What the JIT compiled by then, and which bytecode V8
   * flushed, follow the timing of compiler threads and collections; this figure does not.
   */
  readonly objectHeapBytes: number;
  readonly externalBytes: number;
  readonly arrayBuffersBytes: number;
  /** RSS after a plain `gc()` (V8's free pages still committed), minus before, over the sessions. */
  readonly rssPlainGcBytes: number;
}

export interface IdleSessionsReport {
  readonly sessions: number;
  readonly calls: number;
  readonly batch: number;
  /** Per idle session, all of them (the figure held against the target). */
  readonly perSession: IdleMemory;
  /** Per idle session of the second half: the cost of one more idle session. */
  readonly marginal: IdleMemory;
  readonly failed: number;
  readonly failures: readonly string[];
}

const [sessionsArg, callsArg, batchArg, workdir] = process.argv.slice(2);
if (!sessionsArg || !callsArg || !batchArg || !workdir)
  throw new Error("usage: idle-child.ts <sessions> <calls> <batch> <workdir>");
const sessions = Number(sessionsArg);
const calls = Number(callsArg);
const batch = Number(batchArg);
type Gc = (options?: { type: "major"; execution: "sync"; flavor: "regular" | "last-resort" }) => void;
const gc = (globalThis as { gc?: Gc }).gc;
if (!gc) throw new Error("run with --expose-gc");

const harness = scenarioHarness(workdir, calls, 0, "idle");
type Session = ReturnType<typeof harness.session>;
const failures: string[] = [];
const idle: Session[] = [];

/** Brings `n` sessions to idle, `batch` at a time; `keep: false` closes them (the warm-up). */
async function bringToIdle(n: number, keep: boolean): Promise<void> {
  for (let done = 0; done < n; done += batch) {
    const group = Array.from({ length: Math.min(batch, n - done) }, () => harness.session());
    await Promise.all(
      group.map(async (s) => {
        const r = await s.run("go");
        if (r.status !== "completed" || r.toolCalls !== calls)
          failures.push(`${s.id}: ${r.status} ${JSON.stringify(r.stopReason)}`);
        if (!keep) await s.close();
      }),
    );
    if (keep) idle.push(...group);
  }
}

interface Settled {
  readonly plain: NodeJS.MemoryUsage;
  readonly reduced: NodeJS.MemoryUsage;
  /** Heap used outside the code and trusted spaces, after the memory-reducing gc. */
  readonly objectHeap: number;
}

/** Memory after the event loop turned (finalizers, WeakRef jobs) and a gc: plain, then memory-reducing. */
async function settled(): Promise<Settled> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  gc!({ type: "major", execution: "sync", flavor: "regular" });
  const plain = process.memoryUsage();
  gc!({ type: "major", execution: "sync", flavor: "last-resort" });
  const reduced = process.memoryUsage();
  let objectHeap = 0;
  for (const space of getHeapSpaceStatistics())
    if (!/code|trusted/.test(space.space_name)) objectHeap += space.space_used_size;
  return { plain, reduced, objectHeap };
}

function per(from: Settled, to: Settled, n: number): IdleMemory {
  const d = (k: "rss" | "heapUsed" | "external" | "arrayBuffers") => (to.reduced[k] - from.reduced[k]) / n;
  return {
    rssBytes: d("rss"),
    heapUsedBytes: d("heapUsed"),
    objectHeapBytes: (to.objectHeap - from.objectHeap) / n,
    externalBytes: d("external"),
    arrayBuffersBytes: d("arrayBuffers"),
    rssPlainGcBytes: (to.plain.rss - from.plain.rss) / n,
  };
}

// Warm-up (JIT, module caches, the audit writer thread): two batches, closed.
await bringToIdle(2 * batch, false);
const before = await settled();
const half = Math.floor(sessions / 2);
await bringToIdle(half, true);
const atHalf = await settled();
await bringToIdle(sessions - half, true);
const atAll = await settled();

const report: IdleSessionsReport = {
  sessions,
  calls,
  batch,
  perSession: per(before, atAll, sessions),
  marginal: per(atHalf, atAll, sessions - half),
  failed: new Set(failures.map((f) => f.split(":")[0])).size,
  failures: failures.slice(0, 10),
};
// The sessions were held until measured; closing them seals their trails (not measured).
await Promise.all(idle.map((s) => s.close()));
process.stdout.write(`${JSON.stringify(report)}\n`);
