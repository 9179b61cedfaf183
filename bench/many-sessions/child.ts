/**
 * One many-sessions scenario in a fresh process (run it under `ulimit -n 1024` to hold the
 * descriptor bound): `node --expose-gc bench/many-sessions/child.ts <sessions> <calls> <modelMs> <workdir>`.
 * Prints one JSON line (`ManySessionsReport`). `sessions` sessions of one harness with the CLI
 * defaults (audit trail on) run at once, each `calls` turns of one tool call (a tool that writes
 * nothing and can change something, so each call gets an intent record), with a model that waits
 * `modelMs` per call; before them, the same waits as plain async loops, for the event-loop delay baseline.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { verifyAuditFile, verifyAuditText } from "../../dist/index.js";
import { startCpuProfile } from "../lib/cpu-profile.ts";
import { scenarioAudit, scenarioHarness } from "./scenario.ts";

export interface ManySessionsReport {
  /** Where the audit trail went (`--audit`: file, the CLI default; memory; off). */
  readonly audit: string;
  readonly sessions: number;
  readonly calls: number;
  readonly modelMs: number;
  readonly wallMs: number;
  readonly idealMs: number;
  readonly failed: number;
  readonly failures: readonly string[];
  readonly delayP99Ms: number;
  readonly plainDelayP99Ms: number;
  /** p99 of the main thread's CPU time between two ticks of a 1 ms timer (the stalls, without other processes' share of a loaded machine). */
  readonly cpuStallP99Ms: number;
  readonly plainCpuStallP99Ms: number;
  readonly maxOpenFds: number;
  readonly fdLimit: string;
  /**
   * RSS after gc with the sessions idle right after they all ran at once, minus before, over the
   * sessions: what they hold plus the slack of the run's peak (V8's grown heap, the allocator's
   * pools). `idle-child.ts` measures what idle sessions hold without that peak.
   */
  readonly rssAfterPeakPerSessionBytes: number;
  /** heapUsed (after gc) at the same point, minus before, over the sessions. */
  readonly heapAfterPeakPerSessionBytes: number;
  /** Main-thread and libuv-pool CPU (user + system) of the live phase, over the sessions. */
  readonly cpuPerSessionMs: number;
  /** The main thread's CPU alone (the event loop's work: what the waits must hide for wall ≤ 1.3× ideal), over the sessions. */
  readonly mainCpuPerSessionMs: number;
  /**
   * The live phase's CPU by thread (from /proc/self/task, 10 ms ticks), over the sessions: the main
   * thread, V8's helper threads (parallel and concurrent GC, the optimising compiler), the audit
   * writer's thread, and the rest (the libuv pool).
   */
  readonly threadCpuPerSessionMs: {
    readonly main: number;
    readonly v8: number;
    readonly writer: number;
    readonly other: number;
  };
  /** Cores this process may run on (`os.availableParallelism()`). */
  readonly cores: number;
  /** Wall time of the plain async loops doing the same waits: the floor this process reached. */
  readonly plainWallMs: number;
  readonly heapKeptPerClosedSessionBytes: number;
  readonly trailsVerified: number;
  /**
   * The file system's floor for one trail file, measured in this process before the live phase: CPU
   * (user + system, ms) to create, write 400 bytes to and close one new file in a folder beside the
   * trails, over up to 1,000 files. On this project's VMs (ext4 without a journal) it swung from 16
   * to 586 µs within a day, with the state of the file system.
   */
  readonly fileCreateMs: number;
}

// `live-only` (5th argument): skip the sequential heap phase (a test that counts failures, not bytes).
const [sessionsArg, callsArg, modelMsArg, workdir, mode] = process.argv.slice(2);
if (!sessionsArg || !callsArg || !modelMsArg || !workdir)
  throw new Error("usage: child.ts <sessions> <calls> <modelMs> <workdir>");
const sessions = Number(sessionsArg);
const calls = Number(callsArg);
const modelMs = Number(modelMsArg);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");

// The descriptors open now: Linux (6.2 and later) gives their number as the size of /proc/self/fd, one
// stat (~7 µs) where listing the folder costs ~140 µs at 300 descriptors, and that cost grew with the
// very figure measured (it made the file trail's run look dearer than the in-memory one's by itself).
// Older kernels give 0: the folder is listed then (less its own descriptor, which the stat does not open).
const openFds = () => statSync("/proc/self/fd").size || readdirSync("/proc/self/fd").length - 1;
let maxOpenFds = openFds();
// Every 20 ms: the sample is synchronous, so the sampler itself delays the event loop a little (the
// same in the plain loops' window); the writer's own bound keeps the plateau long.
const fdSampler = setInterval(() => {
  maxOpenFds = Math.max(maxOpenFds, openFds());
}, 20);

const harness = scenarioHarness(workdir, calls, modelMs);

const gcPauses: number[] = [];
if (process.env.MANY_SESSIONS_DELAY)
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.duration >= 2) gcPauses.push(e.duration);
  }).observe({ entryTypes: ["gc"] });

async function measureDelay<T>(
  work: () => Promise<T>,
): Promise<{ value: T; p99Ms: number; cpuStallP99Ms: number; ms: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  // The same stalls in CPU time: the main thread's CPU between two ticks of a 1 ms timer, which
  // does not count the time other processes of a loaded machine held the core (wall delay does).
  const stalls: number[] = [];
  let last = process.threadCpuUsage();
  const ticker = setInterval(() => {
    const now = process.threadCpuUsage();
    stalls.push((now.user + now.system - last.user - last.system) / 1000);
    last = now;
  }, 1);
  const t0 = performance.now();
  const value = await work();
  const ms = performance.now() - t0;
  clearInterval(ticker);
  h.disable();
  if (process.env.MANY_SESSIONS_DELAY) {
    // MANY_SESSIONS_DELAY=1: the delay histogram's count and upper percentiles, and the GC pauses, on stderr.
    const pct = [50, 90, 95, 98, 99, 99.5, 100].map((p) => `p${p} ${(h.percentile(p) / 1e6).toFixed(1)}`);
    process.stderr.write(
      `delay: ${h.count} samples, ${pct.join(", ")}; gc pauses ≥ 2 ms: ${gcPauses
        .splice(0)
        .map((g) => g.toFixed(1))
        .join(" ")}\n`,
    );
  }
  stalls.sort((a, b) => a - b);
  const cpuStallP99Ms = stalls[Math.min(stalls.length - 1, Math.floor(stalls.length * 0.99))] ?? 0;
  return { value, p99Ms: h.percentile(99) / 1e6, cpuStallP99Ms, ms };
}

// Warm-up (JIT, module caches): a few sessions, closed.
for (let i = 0; i < 5; i++) {
  const s = harness.session();
  await s.run("warm up");
  await s.close();
}

// The file system's floor for one trail file (see `fileCreateMs`), in a folder beside the trails;
// kept until the parent removes the work folder (a file deleted now would slow the trails' creation).
const floorDir = join(workdir, "fs-floor");
mkdirSync(floorDir);
const floorFiles = Math.min(sessions, 1000);
const line = Buffer.alloc(400, 0x61);
const floorBefore = process.threadCpuUsage();
for (let i = 0; i < floorFiles; i++) {
  const fd = openSync(join(floorDir, `f${i}.jsonl`), "wx", 0o600);
  writeSync(fd, line);
  closeSync(fd);
}
const floorCpu = process.threadCpuUsage(floorBefore);
const fileCreateMs = (floorCpu.user + floorCpu.system) / 1000 / floorFiles;

// Baseline: the same waits as plain async loops, in the same process, measured first and after a
// full gc (measured last, it met the garbage of the phases before it: at 10,000 sessions its own
// p99 reached hundreds of ms, which made any ratio to it meaningless).
gc();
const plain = await measureDelay(() =>
  Promise.all(
    Array.from({ length: sessions }, async () => {
      for (let i = 0; i <= calls; i++) await sleep(modelMs);
    }),
  ),
);

gc();
const memoryBefore = process.memoryUsage();
const rssBefore = memoryBefore.rss;
const heapBefore0 = process.memoryUsage().heapUsed;
const failures: string[] = [];
// MANY_SESSIONS_PROFILE=<file.cpuprofile>: a V8 CPU profile of the live phase only (not the warm-up,
// the plain loops or the heap phase); its own cost inflates the CPU figure of that run.
const profileFile = process.env.MANY_SESSIONS_PROFILE;
const profiler = profileFile ? await startCpuProfile(100) : undefined;
const threadsBefore = threadTimes();
const cpuBefore = process.cpuUsage();
const mainCpuBefore = process.threadCpuUsage();
const live = await measureDelay(async () => {
  const all = Array.from({ length: sessions }, () => harness.session());
  const results = await Promise.all(
    all.map(async (s) => {
      const r = await s.run("go");
      if (r.status !== "completed" || r.toolCalls !== calls)
        failures.push(`${s.id}: ${r.status} ${JSON.stringify(r.stopReason)}`);
      return s;
    }),
  );
  return results;
});
const cpu = process.cpuUsage(cpuBefore);
const mainCpu = process.threadCpuUsage(mainCpuBefore);
// CPU ms of each thread during the live phase, by thread name.
const byThread = new Map<string, number>();
for (const [tid, t] of threadTimes())
  byThread.set(t.name, (byThread.get(t.name) ?? 0) + t.ms - (threadsBefore.get(tid)?.ms ?? 0));
// MANY_SESSIONS_THREADS=1: the same on stderr, every thread name apart.
if (process.env.MANY_SESSIONS_THREADS)
  process.stderr.write(
    `${JSON.stringify(Object.fromEntries([...byThread].map(([k, v]) => [k, Math.round(v)])))}\n`,
  );
const threadCpu = { main: 0, v8: 0, writer: 0, other: 0 };
for (const [name, ms] of byThread) {
  const kind =
    name === "MainThread" || name === "node"
      ? "main"
      : name.startsWith("V8") || name.startsWith("DelayedTask")
        ? "v8"
        : name.startsWith("rein-audit")
          ? "writer"
          : "other";
  threadCpu[kind] += ms / sessions;
}
if (profiler && profileFile) writeFileSync(profileFile, JSON.stringify(await profiler.stop()));
// RSS after the peak: the sessions above are idle (run, not closed) right after running all at once.
gc();
if (process.env.MANY_SESSIONS_MEMORY) {
  // MANY_SESSIONS_MEMORY=1: the whole memoryUsage() before and with the sessions idle, on stderr.
  process.stderr.write(`${JSON.stringify({ before: memoryBefore, idle: process.memoryUsage() })}\n`);
}
const rssIdle = process.memoryUsage().rss;
const heapIdle = process.memoryUsage().heapUsed;
await Promise.all(
  live.value.map((s) =>
    s.close().catch((err: unknown) => {
      failures.push(`${s.id}: close ${(err as Error).message}`);
    }),
  ),
);
let trailsVerified = 0;
const audit = scenarioAudit();
for (const s of live.value) {
  if (audit === "off") break;
  const v =
    audit === "file"
      ? verifyAuditFile(harness.auditFile(s.id)!)
      : verifyAuditText(harness.auditTrail(s.id)!.text());
  if (v.ok && v.records === calls) trailsVerified++;
  else failures.push(`${s.id}: trail ${v.status} ${v.records}`);
}
live.value.length = 0;

// Heap kept per closed session: more sessions (a model that does not wait), sequentially, closed;
// compare the heap after gc.
const quick = scenarioHarness(workdir, calls, 0, "quick");
for (let i = 0; i < (mode === "live-only" ? 0 : 300); i++) {
  const s = quick.session();
  await s.run("warm");
  await s.close();
}
gc();
const heapBefore = process.memoryUsage().heapUsed;
const extra = mode === "live-only" ? 0 : Math.max(2000, sessions);
for (let i = 0; i < extra; i++) {
  const s = quick.session();
  await s.run("more");
  await s.close();
}
gc();
const heapAfter = process.memoryUsage().heapUsed;

clearInterval(fdSampler);

let fdLimit = "unknown";
try {
  const { readFileSync } = await import("node:fs");
  fdLimit = /Max open files\s+(\S+)/.exec(readFileSync("/proc/self/limits", "utf8"))?.[1] ?? fdLimit;
} catch {}

const report: ManySessionsReport = {
  audit,
  sessions,
  calls,
  modelMs,
  wallMs: live.ms,
  idealMs: (calls + 1) * modelMs,
  failed: new Set(failures.map((f) => f.split(":")[0])).size,
  failures: failures.slice(0, 10),
  delayP99Ms: live.p99Ms,
  plainDelayP99Ms: plain.p99Ms,
  cpuStallP99Ms: live.cpuStallP99Ms,
  plainCpuStallP99Ms: plain.cpuStallP99Ms,
  maxOpenFds,
  fdLimit,
  rssAfterPeakPerSessionBytes: Math.max(0, (rssIdle - rssBefore) / sessions),
  heapAfterPeakPerSessionBytes: Math.max(0, (heapIdle - heapBefore0) / sessions),
  cpuPerSessionMs: (cpu.user + cpu.system) / 1000 / sessions,
  mainCpuPerSessionMs: (mainCpu.user + mainCpu.system) / 1000 / sessions,
  threadCpuPerSessionMs: threadCpu,
  cores: availableParallelism(),
  plainWallMs: plain.ms,
  heapKeptPerClosedSessionBytes: extra === 0 ? Number.NaN : Math.max(0, (heapAfter - heapBefore) / extra),
  trailsVerified,
  fileCreateMs,
};
process.stdout.write(`${JSON.stringify(report)}\n`);

/** CPU time (user + system, ms) of each thread of this process, from /proc/self/task. */
function threadTimes(): Map<string, { name: string; ms: number }> {
  const out = new Map<string, { name: string; ms: number }>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime and stime are fields 14 and 15 of stat (11 and 12 after the name), in clock ticks (100/s).
      out.set(tid, { name, ms: (Number(fields[11]) + Number(fields[12])) * 10 });
    } catch {}
  }
  return out;
}
