/**
 * guards (issue 19): the loop benchmark's Rein run (N one-no-op-call turns, every CLI default on:
 * workspace tools, audit trail written, every event read from `stream()`) with every guard on —
 * budget (run, session and shared ceilings checked at each reservation, warnings), stall detector,
 * circuit breaker, taint (every call raised LOW → MEDIUM) — against the same run with no guards,
 * alternating, in one process. Target: within 1.2× at N = 2,000 (each guard is O(1) per step).
 * The figure is the median of the per-repetition ratios of process CPU time (each repetition runs
 * both variants back to back, in alternating order, each from a fully collected heap, after three
 * full-size warm-up pairs that let the young generation reach its steady size), so a burst of load
 * from other processes moves one pair, not the whole figure. Each run's GC pauses and collections
 * are reported, to tell GC noise from CPU contention.
 * Flags: `--quick`, `--reps <n>` (default 15; 3 with `--quick`), `--calls <n>` (default 2000),
 * `--only budget,stall,circuitBreaker,taint` (a subset of the guards, to see what each costs),
 * `--profile <dir>` (after the measured runs, a V8 CPU profile of each variant's runs).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GCProfiler } from "node:v8";
import { afterToolCallGuards, beforeModelCallGuards, guardCall } from "../dist/core/pipeline/guards.js";
import type { HarnessConfig, Tool } from "../dist/index.js";
import * as rein from "../dist/index.js";
import type { Benchmark, BenchOptions, BenchOutput } from "./lib/bench.ts";
import { startCpuProfile } from "./lib/cpu-profile.ts";
import { measure, median } from "./lib/measure.ts";

type Variant = "no-guards" | "all-guards";
/**
 * CPU time of the whole process (every thread: the loop's, and V8's GC and compiler helper threads),
 * so the garbage a guard makes counts against it wherever it is collected.
 */
const processCpu = (): { user: number; system: number } => process.cpuUsage();

const VARIANTS: readonly Variant[] = ["no-guards", "all-guards"];

interface RunFigures {
  readonly perCallUs: number;
  readonly cpuPerCallUs: number;
  /** GC pauses of the main thread during the run (wall clock, µs per call) and their number. */
  readonly gcPauseUs: number;
  readonly minorGcs: number;
  readonly majorGcs: number;
}

const TARGET = 1.2;

async function runOnce(
  variant: Variant,
  calls: number,
  workdir: string,
  only?: ReadonlySet<string>,
): Promise<RunFigures> {
  const { z } = await import("zod");
  let n = 0;
  // Not read-only, so taint raises every call; a changing result, as polling has: no stall.
  const tool = rein.defineTool({
    name: "noop",
    description: "Does nothing and returns a counter.",
    input: z.object({}),
    risk: { level: "LOW", reason: "does nothing" },
    execute: async () => `ok ${++n}`,
  });
  const guards: HarnessConfig["guards"] =
    variant === "all-guards"
      ? {
          budget: {
            run: { maxCostUsd: 1_000, maxTokens: 1_000_000_000 },
            session: { maxTokens: 1_000_000_000 },
            shared: { name: "bench", maxTokens: 1_000_000_000_000 },
          },
          stall: { window: 6 },
          circuitBreaker: true,
          taint: true,
        }
      : [];
  if (variant === "all-guards" && only) {
    for (const k of Object.keys(guards)) if (!only.has(k)) delete (guards as Record<string, unknown>)[k];
  }
  const harness = rein.createHarness({
    model: rein.scriptedModel({
      name: "bench",
      turns: [
        {
          tool_calls: [{ tool: "noop", input: {} }],
          usage: { input_tokens: 10, output_tokens: 10 },
          repeat: calls,
        },
        { say: "done" },
      ],
    }),
    tools: [tool],
    workspace: workdir,
    audit: { dir: join(workdir, ".rein", "audit") },
    limits: { maxTurns: calls + 1 },
    guards,
    // Detection off in both variants: with it on, a harness adds a flag-only taint guard, and the
    // baseline would not be "no guards".
    security: { detect: false },
  });
  let cpu = { user: 0, system: 0 };
  const gc = { ms: 0, minor: 0, major: 0 };
  const m = await measure(async () => {
    // Every collection during the run (not the forced ones `measure` makes before and after it).
    const gcProfiler = new GCProfiler();
    gcProfiler.start();
    const cpuBefore = processCpu();
    const session = harness.session();
    const stream = session.stream("go");
    let events = 0;
    for await (const _event of stream) events++;
    const result = await stream.result;
    await session.close();
    const after = processCpu();
    cpu = { user: after.user - cpuBefore.user, system: after.system - cpuBefore.system };
    for (const g of gcProfiler.stop()?.statistics ?? []) {
      gc.ms += g.cost / 1000;
      if (g.gcType === "Scavenge" || g.gcType === "MinorMarkSweep") gc.minor++;
      else gc.major++;
    }
    return { result, events };
  });
  const { result } = m.value;
  if (result.status !== "completed" || result.toolCalls !== calls)
    throw new Error(
      `${variant}: the run ended ${JSON.stringify(result.stopReason)} after ${result.toolCalls} calls`,
    );
  return {
    perCallUs: (m.ms * 1000) / calls,
    cpuPerCallUs: (cpu.user + cpu.system) / calls,
    gcPauseUs: (gc.ms * 1000) / calls,
    minorGcs: gc.minor,
    majorGcs: gc.major,
  };
}

/**
 * CPU per call of the guard stage itself (beforeModelCall, beforeToolCall, afterToolCall of all four
 * guards, through the pipeline's own functions, and the model call's reservation and settlement
 * against the budget's ceilings) in one long session, per slice of the session: if a guard scanned
 * the history, the later slices would cost more.
 */
function measureGuardStage(total: number): { at: number; us: number }[] {
  const ledger = new rein.MemoryLedger();
  const budget = new rein.BudgetGuard(ledger, {
    run: { maxCostUsd: 1_000, maxTokens: 1_000_000_000 },
    session: { maxTokens: 1_000_000_000 },
    shared: { name: "bench", maxTokens: 1_000_000_000_000 },
  });
  const guards = [
    budget,
    new rein.CircuitBreaker(),
    new rein.StallDetector({ window: 6 }),
    new rein.TaintGuard(),
  ];
  const books = budget.ledgerFor(ledger);
  const scope = { tenantId: "local", sessionId: "bench" };
  const usage = { inputTokens: 10, outputTokens: 10, cacheReadTokens: 0, cacheWriteTokens: 0 };
  const tool = { name: "noop", readOnly: false } as Tool;
  const ctx = {
    deps: { guards, tenantId: "local", sessionId: "bench" },
    runId: "run",
    turn: 0,
    emit: () => {},
    pendingStop: undefined,
  } as unknown as Parameters<typeof guardCall>[0];
  const risk = Object.freeze({ level: "LOW", reason: "does nothing", rule: "bench" } as const);
  const slices = 4;
  const out: { at: number; us: number }[] = [];
  for (let slice = 0; slice < slices; slice++) {
    const before = process.cpuUsage();
    for (let i = (slice * total) / slices; i < ((slice + 1) * total) / slices; i++) {
      ctx.turn = i + 1;
      beforeModelCallGuards(ctx);
      const refused = books.reserve(scope, {
        key: `run:${i}`,
        model: "bench",
        estimateUsd: 0.01,
        estimateTokens: 4096,
        runId: "run",
      });
      if (refused) throw new Error(`the ledger refused a reservation: ${JSON.stringify(refused)}`);
      books.settle(scope, `run:${i}`, { usage, costUsd: 0.0001 });
      guardCall(ctx, tool, `c${i}`, {}, risk);
      afterToolCallGuards(
        ctx,
        { tool, callId: `c${i}`, input: {} },
        { ok: true, errorType: null, content: `ok ${i}`, flags: [] },
      );
    }
    const used = process.cpuUsage(before);
    out.push({ at: ((slice + 1) * total) / slices, us: (used.user + used.system) / (total / slices) });
  }
  if (ctx.pendingStop) throw new Error(`the guard stage stopped: ${JSON.stringify(ctx.pendingStop)}`);
  return out;
}

const bench: Benchmark = {
  name: "guards",
  description: "the loop with every guard on vs no guards, N = 2,000 tool calls (target ≤ 1.2×)",
  async run(options: BenchOptions): Promise<BenchOutput> {
    const unknown = Object.keys(options.flags).filter(
      (f) => !["reps", "calls", "only", "profile"].includes(f),
    );
    const only = options.flags.only ? new Set(options.flags.only.split(",")) : undefined;
    if (unknown.length > 0) throw new Error(`guards: unknown flag(s) --${unknown.join(", --")}`);
    const reps = Number(options.flags.reps ?? (options.quick ? 3 : 15));
    const calls = Number(options.flags.calls ?? 2000);
    if (!Number.isInteger(reps) || reps < 1) throw new Error("--reps must be a positive integer");
    if (!Number.isInteger(calls) || calls < 10) throw new Error("--calls must be an integer >= 10");
    const workdir = mkdtempSync(join(tmpdir(), "rein-bench-guards-"));
    try {
      // Warm-up at full size, both variants, until V8's young generation has grown to its steady size:
      // measured from the first run, it made 5, then 2, then 1 scavenge per run (the first pairs
      // ran in a different GC regime from the rest); after 3 pairs every run makes the same 1.
      const warmups = options.quick ? 1 : 3;
      for (let w = 0; w < warmups; w++) for (const v of VARIANTS) await runOnce(v, calls, workdir, only);
      const runs: Record<Variant, RunFigures[]> = { "no-guards": [], "all-guards": [] };
      for (let rep = 0; rep < reps; rep++) {
        // Alternate which goes first, so drift (GC, CPU frequency, a neighbour's load) hits both alike.
        const order = rep % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
        for (const v of order) {
          const r = await runOnce(v, calls, workdir, only);
          runs[v].push(r);
          options.log(
            `  ${v} rep ${rep + 1}/${reps}: ${r.perCallUs.toFixed(1)} µs per call (CPU ${r.cpuPerCallUs.toFixed(1)} µs; GC pauses ${r.gcPauseUs.toFixed(1)} µs, ${r.minorGcs} minor + ${r.majorGcs} major)`,
          );
        }
      }
      const profileDir = options.flags.profile;
      if (profileDir) {
        // After the measured runs (so the profiler's cost is in no figure): each variant's runs under
        // one V8 CPU profile, `<dir>/<variant>.cpuprofile`, for `/tmp/prof/analyze.mjs` or DevTools.
        mkdirSync(profileDir, { recursive: true });
        for (const v of VARIANTS) {
          const profiler = await startCpuProfile(50);
          for (let rep = 0; rep < reps; rep++) await runOnce(v, calls, workdir, only);
          writeFileSync(join(profileDir, `${v}.cpuprofile`), JSON.stringify(await profiler.stop()));
        }
        options.log(`  profiles: ${profileDir}/{${VARIANTS.join(",")}}.cpuprofile`);
      }
      const of = (v: Variant, k: keyof RunFigures) => runs[v].map((r) => r[k]);
      /** Per repetition: all-guards over no-guards of the same pair of back-to-back runs. */
      const pairRatios = (k: keyof RunFigures) =>
        runs["all-guards"].map((r, i) => r[k] / runs["no-guards"][i]![k]);
      const quartiles = (xs: readonly number[]) => {
        const s = [...xs].sort((a, b) => a - b);
        const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))]!;
        return { q1: at(0.25), q3: at(0.75) };
      };
      const cpuRatios = pairRatios("cpuPerCallUs");
      const wallRatios = pairRatios("perCallUs");
      const cpuRatio = median(cpuRatios);
      const wallRatio = median(wallRatios);
      const cpuIqr = quartiles(cpuRatios);
      const minRatioOf = (k: keyof RunFigures) =>
        Math.min(...of("all-guards", k)) / Math.min(...of("no-guards", k));
      const stage = measureGuardStage(options.quick ? 20_000 : 200_000);
      const row = (v: Variant) => {
        const cell = (k: keyof RunFigures, ratios: readonly number[]) => {
          const ys = of(v, k);
          return [
            median(ys).toFixed(1),
            `${Math.min(...ys).toFixed(1)}–${Math.max(...ys).toFixed(1)}`,
            `${(v === "no-guards" ? 1 : median(ratios)).toFixed(2)}×`,
          ];
        };
        return [
          v,
          String(calls),
          String(runs[v].length),
          ...cell("perCallUs", wallRatios),
          ...cell("cpuPerCallUs", cpuRatios),
          median(of(v, "gcPauseUs")).toFixed(1),
          `${median(of(v, "minorGcs"))}+${median(of(v, "majorGcs"))}`,
        ];
      };
      const verdict = (r: number) => `${r.toFixed(2)}× — ${r <= TARGET ? "MET" : "NOT MET"}`;
      return {
        tables: [
          {
            title:
              "Per tool call, one session, in one process (µs; median of the runs, min–max; ×none: median of the per-repetition ratios): wall clock, and CPU time of the process",
            header: [
              "subject",
              "N",
              "runs",
              "wall µs",
              "min–max",
              "×none",
              "CPU µs",
              "min–max",
              "×none",
              "GC pause µs",
              "GCs",
            ],
            rows: [row("no-guards"), row("all-guards")],
            notes: [
              "all-guards: budget (run, session, shared ceilings at each reservation; warnings), stall (window 6),",
              "circuit breaker, taint (each call raised LOW → MEDIUM). Both: workspace, audit trail, stream().",
              "CPU: user + system time of the whole process (process.cpuUsage: the loop and V8's GC and compiler",
              "threads); wall time also holds the time other processes took the cores on a shared machine.",
              "Each run starts from a fully collected heap (two gc() calls after the event loop turned); GC pause:",
              "main-thread GC pauses (wall clock) per call; GCs: minor + major collections per run (medians).",
              `Per-repetition CPU ratios: ${cpuRatios.map((r) => r.toFixed(2)).join(" ")} (quartiles ${cpuIqr.q1.toFixed(2)}–${cpuIqr.q3.toFixed(2)}).`,
              `Fastest runs (least disturbed by other processes): wall ${minRatioOf("perCallUs").toFixed(2)}×, CPU ${minRatioOf("cpuPerCallUs").toFixed(2)}×.`,
              `Target: all-guards within ${TARGET}× of no-guards at N = ${calls} (median of per-repetition ratios): wall ${verdict(wallRatio)}; CPU ${verdict(cpuRatio)}`,
            ],
          },
          {
            title:
              "The guard stage alone (all four guards' hooks through the pipeline's guard stage, and the model call's reserve and settle, no loop), CPU µs per call",
            header: ["calls into the session", "µs per call"],
            rows: stage.map((r) => [String(r.at), r.us.toFixed(2)]),
            notes: [
              "Flat from the first calls to the last: each guard is O(1) per call (a ring buffer, counters, maps by session).",
            ],
          },
        ],
        json: {
          calls,
          reps,
          runs,
          wallRatio,
          cpuRatio,
          cpuRatios,
          wallRatios,
          cpuRatioQuartiles: cpuIqr,
          ratioOfMedians: {
            wall: median(of("all-guards", "perCallUs")) / median(of("no-guards", "perCallUs")),
            cpu: median(of("all-guards", "cpuPerCallUs")) / median(of("no-guards", "cpuPerCallUs")),
          },
          minWallRatio: minRatioOf("perCallUs"),
          minCpuRatio: minRatioOf("cpuPerCallUs"),
          guardStageUs: stage,
          target: TARGET,
        },
      };
    } finally {
      rmSync(workdir, { recursive: true, force: true });
    }
  },
};

export default bench;
