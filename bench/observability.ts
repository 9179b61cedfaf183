/**
 * observability (issue 23): the loop benchmark's Rein run (N one-no-op-call turns, workspace tools,
 * audit trail written, every event read from `stream()`) with tracing (the OTel SDK with a batch
 * processor into an in-memory exporter: every span built and exported, none sent over a network)
 * and Prometheus metrics on, against the same run with both off, alternating, in one process.
 * Target: within 1.3× at N = 2,000. Flags: `--quick`, `--reps <n>` (default 9; 3 with `--quick`),
 * `--calls <n>` (default 2000).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import type { EventSink } from "../dist/index.js";
import * as rein from "../dist/index.js";
import * as observability from "../dist/observability.js";
import type { Benchmark, BenchOptions, BenchOutput } from "./lib/bench.ts";
import { measure, median } from "./lib/measure.ts";

type Variant = "off" | "traces+metrics";
const VARIANTS: readonly Variant[] = ["off", "traces+metrics"];
// The scripted model answers without I/O, so the loop never yields to timers during a run and the batch
// processor cannot export until it ends: let its queue hold a whole run (default 2,048 would drop spans).
process.env.OTEL_BSP_MAX_QUEUE_SIZE ??= "100000";
const TARGET = 1.3;

/** CPU time of this thread (the loop's); see bench/guards.ts. */
const threadCpu = (): { user: number; system: number } =>
  (process as { threadCpuUsage?: () => { user: number; system: number } }).threadCpuUsage?.() ??
  process.cpuUsage();

async function runOnce(
  variant: Variant,
  calls: number,
  workdir: string,
): Promise<{ perCallUs: number; cpuPerCallUs: number; spans: number; toolCallsCounted: number }> {
  const { z } = await import("zod");
  let n = 0;
  const tool = rein.defineTool({
    name: "noop",
    description: "Does nothing and returns a counter.",
    input: z.object({}),
    risk: { level: "LOW", reason: "does nothing" },
    execute: async () => `ok ${++n}`,
  });
  const sinks: EventSink[] = [];
  const exporter = new InMemorySpanExporter();
  let tracing: observability.Tracing | undefined;
  let metrics: observability.ReinMetrics | undefined;
  if (variant === "traces+metrics") {
    tracing = await observability.createTracing({ exporter });
    metrics = await observability.createMetrics();
    sinks.push(tracing.sink, metrics.sink);
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
    sinks,
  });
  let cpu = { user: 0, system: 0 };
  const m = await measure(async () => {
    const cpuBefore = threadCpu();
    const session = harness.session();
    const stream = session.stream("go");
    for await (const _event of stream);
    const result = await stream.result;
    await session.close();
    // Inside the timing: the spans' export is part of what tracing costs.
    await tracing?.flush();
    const after = threadCpu();
    cpu = { user: after.user - cpuBefore.user, system: after.system - cpuBefore.system };
    return result;
  });
  const result = m.value;
  if (result.status !== "completed" || result.toolCalls !== calls)
    throw new Error(
      `${variant}: the run ended ${JSON.stringify(result.stopReason)} after ${result.toolCalls} calls`,
    );
  const spans = exporter.getFinishedSpans().length;
  let toolCallsCounted = 0;
  if (metrics) {
    const json = await metrics.registry.getSingleMetric("rein_tool_calls_total")?.get();
    toolCallsCounted = json?.values.reduce((a, v) => a + v.value, 0) ?? 0;
  }
  await tracing?.shutdown();
  return {
    perCallUs: (m.ms * 1000) / calls,
    cpuPerCallUs: (cpu.user + cpu.system) / calls,
    spans,
    toolCallsCounted,
  };
}

const bench: Benchmark = {
  name: "observability",
  description:
    "the loop with tracing (in-memory exporter) and metrics on vs off, N = 2,000 tool calls (target ≤ 1.3×)",
  async run(options: BenchOptions): Promise<BenchOutput> {
    const unknown = Object.keys(options.flags).filter((f) => f !== "reps" && f !== "calls");
    if (unknown.length > 0) throw new Error(`observability: unknown flag(s) --${unknown.join(", --")}`);
    const reps = Number(options.flags.reps ?? (options.quick ? 3 : 9));
    const calls = Number(options.flags.calls ?? 2000);
    if (!Number.isInteger(reps) || reps < 1) throw new Error("--reps must be a positive integer");
    if (!Number.isInteger(calls) || calls < 10) throw new Error("--calls must be an integer >= 10");
    const workdir = mkdtempSync(join(tmpdir(), "rein-bench-obs-"));
    try {
      for (const v of VARIANTS) await runOnce(v, Math.min(200, calls), workdir); // warm-up
      const wall: Record<Variant, number[]> = { off: [], "traces+metrics": [] };
      const cpu: Record<Variant, number[]> = { off: [], "traces+metrics": [] };
      let check = { spans: 0, toolCallsCounted: 0 };
      for (let rep = 0; rep < reps; rep++) {
        const order = rep % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
        for (const v of order) {
          const r = await runOnce(v, calls, workdir);
          wall[v].push(r.perCallUs);
          cpu[v].push(r.cpuPerCallUs);
          if (v !== "off") check = { spans: r.spans, toolCallsCounted: r.toolCallsCounted };
          options.log(
            `  ${v} rep ${rep + 1}/${reps}: ${r.perCallUs.toFixed(1)} µs per call (CPU ${r.cpuPerCallUs.toFixed(1)} µs)`,
          );
        }
      }
      // Every run with tracing built 1 invoke_agent + N+1 chat + N execute_tool spans and counted N calls.
      if (check.spans !== 2 * calls + 2 || check.toolCallsCounted !== calls)
        throw new Error(
          `observability: expected ${2 * calls + 2} spans and ${calls} counted calls, got ${JSON.stringify(check)}`,
        );
      const ratioOf = (xs: Record<Variant, number[]>) => median(xs["traces+metrics"]) / median(xs.off);
      const minRatioOf = (xs: Record<Variant, number[]>) =>
        Math.min(...xs["traces+metrics"]) / Math.min(...xs.off);
      const wallRatio = ratioOf(wall);
      const cpuRatio = ratioOf(cpu);
      const row = (v: Variant) => {
        const cell = (xs: Record<Variant, number[]>) => {
          const ys = xs[v];
          return [
            median(ys).toFixed(1),
            `${Math.min(...ys).toFixed(1)}–${Math.max(...ys).toFixed(1)}`,
            `${(median(ys) / median(xs.off)).toFixed(2)}×`,
          ];
        };
        return [v, String(calls), String(wall[v].length), ...cell(wall), ...cell(cpu)];
      };
      const verdict = (r: number) => `${r.toFixed(2)}× — ${r <= TARGET ? "MET" : "NOT MET"}`;
      return {
        tables: [
          {
            title:
              "Per tool call, one session, in one process (µs; median of the runs, min–max): wall clock, and CPU time of the loop's thread",
            header: ["subject", "N", "runs", "wall µs", "min–max", "×off", "CPU µs", "min–max", "×off"],
            rows: [row("off"), row("traces+metrics")],
            notes: [
              `traces+metrics: the OTel SDK (batch processor → in-memory exporter; ${2 * calls + 2} spans a run, flushed inside`,
              "the timing) and prom-client metrics (a registry of their own). Both: workspace, audit trail, stream().",
              `Fastest runs: wall ${minRatioOf(wall).toFixed(2)}×, CPU ${minRatioOf(cpu).toFixed(2)}×.`,
              `Target: traces+metrics within ${TARGET}× of off at N = ${calls}: wall ${verdict(wallRatio)}; CPU ${verdict(cpuRatio)}`,
            ],
          },
        ],
        json: {
          calls,
          reps,
          wallUs: wall,
          cpuUs: cpu,
          wallRatio,
          cpuRatio,
          minWallRatio: minRatioOf(wall),
          minCpuRatio: minRatioOf(cpu),
          target: TARGET,
        },
      };
    } finally {
      rmSync(workdir, { recursive: true, force: true });
    }
  },
};

export default bench;
