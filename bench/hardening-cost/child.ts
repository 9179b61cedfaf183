/**
 * One measurement of the hardening-cost benchmark, in a fresh process:
 * `fork("child.ts", [distDir, calls, audit ("on" | "off"), workdir, shape ("one" | "two-1k"), config])`.
 * Runs the loop benchmark's Rein subject (bench/loop-scaling/subjects.ts, as the issue measured it:
 * a workspace, so the built-in tools are registered; the audit trail under the workspace's
 * `.rein/audit`; every event read from `session.stream()`; the session closed) with a scripted model
 * making one tool call per turn (or two with ~1 KB results), and reports the process CPU time
 * (user + system, every thread) around the run.
 *
 * `config`: `as-built` (the build's own defaults), or `foundation` (a build newer than the
 * foundation, with only what the foundation had: its `ToolProfilePolicy`, and the security
 * features that later issues added, redaction, spotlighting and injection detection, off).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { startCpuProfile } from "../lib/cpu-profile.ts";

export interface HardeningChildReport {
  readonly cpuUs: number;
  /** CPU of the main thread alone (the rest is V8's compiler and GC helper threads, and the libuv pool). */
  readonly mainCpuUs: number;
  /** Full (mark-compact) collections during the measured run: each costs tens of ms, whether one lands in the run is chance. */
  readonly majorGcs: number;
  readonly wallMs: number;
  readonly toolCalls: number;
}

const [distDir, callsArg, audit, workdir, shape, config, warmupArg] = process.argv.slice(2);
if (
  !distDir ||
  !callsArg ||
  (audit !== "on" && audit !== "off") ||
  !workdir ||
  (shape !== "one" && shape !== "two-1k") ||
  (config !== "as-built" && config !== "foundation")
)
  throw new Error(
    "usage: child.ts <distDir> <calls> <on|off> <workdir> <one|two-1k> <as-built|foundation> [warm-up calls]",
  );
if (!process.send) throw new Error("child.ts reports over IPC: start it with child_process.fork");

const rein = await import(pathToFileURL(join(distDir, "index.js")).href);
const { z } = await import("zod");
const calls = Number(callsArg);
const perTurn = shape === "two-1k" ? 2 : 1;
const result = shape === "two-1k" ? "x".repeat(1024) : "ok";
const tool = rein.defineTool({
  name: "noop",
  description: "Does nothing.",
  input: z.object({}),
  risk: { level: "LOW", reason: "does nothing" },
  execute: async () => result,
});
const foundationOnly =
  config === "foundation"
    ? {
        policy: new rein.ToolProfilePolicy(),
        security: { redact: false, spotlight: false, detect: false },
      }
    : {};
const dir = mkdtempSync(join(workdir, "run-"));
async function once(n: number) {
  const workspace = mkdtempSync(join(dir, "ws-"));
  mkdirSync(join(workspace, ".rein"));
  const h = rein.createHarness({
    model: rein.scriptedModel({
      name: "bench",
      turns: [
        {
          tool_calls: Array.from({ length: perTurn }, () => ({ tool: "noop", input: {} })),
          repeat: n / perTurn,
        },
        { say: "done" },
      ],
    }),
    tools: [tool],
    workspace,
    audit: audit === "on" ? { dir: join(workspace, ".rein", "audit") } : false,
    limits: { maxTurns: n / perTurn + 1 },
    ...foundationOnly,
  });
  const session = h.session();
  const stream = session.stream("go");
  let events = 0;
  for await (const _event of stream) events++;
  const r = await stream.result;
  await session.close();
  if (r.status !== "completed" || r.toolCalls !== n || events < 4 * n)
    throw new Error(`run ended ${r.status} after ${r.toolCalls} calls and ${events} events`);
  return r;
}
// Warm-up: JIT and module caches, as in the original measurement (200 calls; `--warmup n` of the
// benchmark changes it, to see how much of a figure is the compiler catching up rather than steady state).
await once(warmupArg === undefined ? 200 : Number(warmupArg));
// HARDENING_COST_PROFILE=<file.cpuprofile>: a V8 CPU profile of the measured run only (not start-up
// or the warm-up), for `--profile` of the benchmark. Its own cost is outside the CPU figure's purpose.
const profileFile = process.env.HARDENING_COST_PROFILE;
const profiler = profileFile ? await startCpuProfile(50) : undefined;
let majorGcs = 0;
const gcs = new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
      majorGcs++;
});
gcs.observe({ entryTypes: ["gc"] });
const cpu0 = process.cpuUsage();
const main0 = process.threadCpuUsage();
const t0 = performance.now();
const r = await once(calls);
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const main = process.threadCpuUsage(main0);
// GC entries are delivered asynchronously, a turn or two of the event loop after the run.
for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
gcs.disconnect();
if (profiler && profileFile) writeFileSync(profileFile, JSON.stringify(await profiler.stop()));
rmSync(dir, { recursive: true, force: true });
const report: HardeningChildReport = {
  cpuUs: cpu.user + cpu.system,
  mainCpuUs: main.user + main.system,
  majorGcs,
  wallMs,
  toolCalls: r.toolCalls,
};
process.send(report, () => process.disconnect());
