/**
 * observability (issue 23): the loop benchmark's Rein run (N one-no-op-call turns, workspace tools,
 * audit trail written, every event read from `stream()`) with tracing (`createTracing` as the product
 * makes it: the SDK's batch span processor, here into an in-memory exporter: every span built, kept and
 * exported, none sent over a network) and Prometheus metrics on, against the same run with both off,
 * alternating, in one process; medians of the runs. The figure is CPU time of the whole process
 * (`process.cpuUsage()`: the loop's thread, the GC's helper threads, libuv's pool), from the session's
 * start to the spans' flush. Target: within 1.3× at N = 2,000. Flags: `--quick`, `--reps <n>` (default
 * 9; 3 with `--quick`), `--calls <n>` (default 2000), `--split yes` (also traces alone and metrics alone).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import type { EventSink } from "../dist/index.js";
import * as rein from "../dist/index.js";
import * as observability from "../dist/observability.js";
import type { Benchmark, BenchOptions, BenchOutput } from "./lib/bench.ts";
import { measure, median } from "./lib/measure.ts";

type Variant = "off" | "traces+metrics" | "traces" | "metrics";
// The scripted model answers without I/O, so the loop never yields to timers during a run and the batch
// processor cannot export until it ends: let its queue hold a whole run (default 2,048 would drop spans).
process.env.OTEL_BSP_MAX_QUEUE_SIZE ??= "100000";
const TARGET = 1.3;

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
  if (variant === "traces+metrics" || variant === "traces") {
    tracing = await observability.createTracing({ exporter });
    sinks.push(tracing.sink);
  }
  if (variant === "traces+metrics" || variant === "metrics") {
    metrics = await observability.createMetrics();
    sinks.push(metrics.sink);
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
    const cpuBefore = process.cpuUsage();
    const session = harness.session();
    const stream = session.stream("go");
    for await (const _event of stream);
    const result = await stream.result;
    await session.close();
    // Inside the timing: the spans' export is part of what tracing costs.
    await tracing?.flush();
    cpu = process.cpuUsage(cpuBefore);
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
    const unknown = Object.keys(options.flags).filter((f) => !["reps", "calls", "split"].includes(f));
    if (unknown.length > 0) throw new Error(`observability: unknown flag(s) --${unknown.join(", --")}`);
    const reps = Number(options.flags.reps ?? (options.quick ? 3 : 9));
    const calls = Number(options.flags.calls ?? 2000);
    if (!Number.isInteger(reps) || reps < 1) throw new Error("--reps must be a positive integer");
    if (!Number.isInteger(calls) || calls < 10) throw new Error("--calls must be an integer >= 10");
    const VARIANTS: readonly Variant[] =
      options.flags.split === undefined || ["false", "no", "0"].includes(options.flags.split)
        ? ["off", "traces+metrics"]
        : ["off", "traces+metrics", "traces", "metrics"];
    const workdir = mkdtempSync(join(tmpdir(), "rein-bench-obs-"));
    try {
      // Warm-up: one run of each at full size, so the runs measured are of optimised code.
      for (const v of VARIANTS) await runOnce(v, calls, workdir);
      const wall: Record<Variant, number[]> = { off: [], "traces+metrics": [], traces: [], metrics: [] };
      const cpu: Record<Variant, number[]> = { off: [], "traces+metrics": [], traces: [], metrics: [] };
      let check = { spans: 0, toolCallsCounted: 0 };
      for (let rep = 0; rep < reps; rep++) {
        const order = rep % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
        for (const v of order) {
          const r = await runOnce(v, calls, workdir);
          wall[v].push(r.perCallUs);
          cpu[v].push(r.cpuPerCallUs);
          if (v === "traces+metrics") check = { spans: r.spans, toolCallsCounted: r.toolCallsCounted };
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
              "Per tool call, one session, in one process (µs; median of the runs, min–max): wall clock, and CPU time of the process",
            header: ["subject", "N", "runs", "wall µs", "min–max", "×off", "CPU µs", "min–max", "×off"],
            rows: VARIANTS.map(row),
            notes: [
              `traces+metrics: createTracing (the SDK's batch processor → in-memory exporter; ${2 * calls + 2} spans a run, flushed`,
              "inside the timing) and createMetrics (prom-client, a registry of their own). All: workspace, audit trail, stream().",
              `Load average at the end: ${loadavg()
                .map((l) => l.toFixed(2))
                .join(" ")} (${cpus().length} cores).`,
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
          loadavg: loadavg(),
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
