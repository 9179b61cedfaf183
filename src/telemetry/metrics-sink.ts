import type { Counter, Gauge, Registry } from "prom-client";
import type { EventSink, ReinEvent } from "../protocol/events.js";
import { BucketHistogram, type HistogramSeries } from "./bucket-histogram.js";
import { EventBatch } from "./event-batch.js";
import { GUARD_STOPS, toolOutcome } from "./event-facts.js";

type PromClient = typeof import("prom-client");

/** Label given to a tool name the session does not have (a model can invent any name). */
export const UNKNOWN_TOOL = "_unknown";
/** Label given to tool names past the cap (labels stay bounded whatever the tools are). */
export const OTHER_TOOL = "_other";
const MAX_TOOL_LABELS = 200;

const TIME_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * A counter series whose increments are summed here and handed to prom-client when the registry is
 * read (the counter's `collect`): an event costs an addition, not a label hash and validation.
 */
interface Slot {
  readonly labels: Record<string, string>;
  pending: number;
  /** Handed to prom-client at least once: a series seen with 0 (a free model's cost) still shows. */
  reported: boolean;
}

/** The counters whose increments are batched in slots. */
type BatchedCounter = "cost" | "tokens" | "modelCalls" | "toolCalls";

/** Counters that add up in slots until they are read. */
class SlotCounter {
  readonly #slots: Slot[] = [];
  constructor(readonly counter: Counter<string>) {}

  slot(labels: Record<string, string>): Slot {
    const s: Slot = { labels, pending: 0, reported: false };
    this.#slots.push(s);
    return s;
  }

  /** Called by prom-client before it reads the counter. */
  flush(): void {
    for (const s of this.#slots) {
      if (s.pending === 0 && s.reported) continue;
      this.counter.inc(s.labels, s.pending);
      s.pending = 0;
      s.reported = true;
    }
  }
}

/** Per model: its series, bound once (models are few; every label set of a model is fixed). */
interface ModelSeries {
  readonly cost: Slot;
  readonly input: Slot;
  readonly output: Slot;
  readonly cacheRead: Slot;
  readonly cacheWrite: Slot;
  readonly calls: Map<string, Slot>;
  readonly duration: HistogramSeries;
}

/** Per tool and outcome: the call count and the duration series. */
interface ToolSeries {
  readonly calls: Slot;
  readonly duration: HistogramSeries;
}

/**
 * An `EventSink` that keeps Rein's Prometheus metrics, named by Prometheus conventions (`rein_` prefix,
 * base units, `_total` counters). Labels are bounded: model ids, tool names the session registered
 * (anything else is `_unknown`), outcomes, stop reasons; never a session or run id.
 * A failure here never stops a run: it is counted in `failures`.
 */
export class MetricsSink implements EventSink {
  readonly name = "prometheus-metrics";
  failures = 0;
  readonly #m: ReturnType<typeof defineMetrics>;
  readonly #counters: Readonly<Record<BatchedCounter, SlotCounter>>;
  readonly #models = new Map<string, ModelSeries>();
  readonly #tools = new Map<string, { ok?: ToolSeries; error?: ToolSeries; denied?: ToolSeries }>();
  readonly #knownTools = new Set<string>();
  /** Per run: calls waiting for approval (ts of the request), and calls whose tool passed validation. */
  readonly #runs = new Map<string, { approvals: Map<string, number>; validTools: Set<string> }>();

  readonly #batch = new EventBatch((event) => {
    try {
      this.#handle(event);
    } catch {
      this.failures++;
    }
  });

  constructor(client: PromClient, registry: Registry) {
    const counters: Partial<Record<BatchedCounter, SlotCounter>> = {};
    // Whatever reads a metric (scrape, `text()`, `getSingleMetric().get()`) first applies the events
    // taken so far, then the hot counters hand over their slots: a reader always sees every event.
    this.#m = defineMetrics(client, registry, (name) => () => {
      this.#batch.drain();
      if (name in counters) counters[name as BatchedCounter]?.flush();
    });
    counters.cost = new SlotCounter(this.#m.cost);
    counters.tokens = new SlotCounter(this.#m.tokens);
    counters.modelCalls = new SlotCounter(this.#m.modelCalls);
    counters.toolCalls = new SlotCounter(this.#m.toolCalls);
    this.#counters = counters as Record<BatchedCounter, SlotCounter>;
  }

  #model(model: string): ModelSeries {
    let series = this.#models.get(model);
    if (!series) {
      const { cost, tokens } = this.#counters;
      series = {
        cost: cost.slot({ model }),
        input: tokens.slot({ model, type: "input" }),
        output: tokens.slot({ model, type: "output" }),
        cacheRead: tokens.slot({ model, type: "cache_read" }),
        cacheWrite: tokens.slot({ model, type: "cache_write" }),
        calls: new Map(),
        duration: this.#m.modelCallDuration.series({ model }),
      };
      this.#models.set(model, series);
    }
    return series;
  }

  /** Tool label values are bounded (`#tool`), outcomes are three: so are these series. */
  #toolSeries(tool: string, outcome: "ok" | "error" | "denied"): ToolSeries {
    let byOutcome = this.#tools.get(tool);
    if (!byOutcome) {
      byOutcome = {};
      this.#tools.set(tool, byOutcome);
    }
    let series = byOutcome[outcome];
    if (!series) {
      series = {
        calls: this.#counters.toolCalls.slot({ tool, outcome }),
        duration: this.#m.toolDuration.series({ tool, outcome }),
      };
      byOutcome[outcome] = series;
    }
    return series;
  }

  /** Takes the event; it is counted in a batch (see EventBatch), at the latest when a run ends or a reader asks. */
  handle(event: ReinEvent): void {
    this.#batch.add(event);
    if (event.type === "run_ended") this.#batch.drain();
  }

  #run(runId: string) {
    let run = this.#runs.get(runId);
    if (!run) {
      run = { approvals: new Map(), validTools: new Set() };
      this.#runs.set(runId, run);
    }
    return run;
  }

  #tool(name: string, run: { validTools: Set<string> } | undefined, callId: string): string {
    if (this.#knownTools.has(name)) return name;
    if (!run?.validTools.has(callId)) return UNKNOWN_TOOL;
    if (this.#knownTools.size >= MAX_TOOL_LABELS) return OTHER_TOOL;
    this.#knownTools.add(name);
    return name;
  }

  #handle(e: ReinEvent): void {
    const m = this.#m;
    switch (e.type) {
      case "session_started":
        for (const t of e.data.tools) if (this.#knownTools.size < MAX_TOOL_LABELS) this.#knownTools.add(t);
        return;
      case "run_started":
        this.#run(e.runId);
        return;
      case "model_call_finished": {
        const d = e.data;
        const series = this.#model(d.model);
        let calls = series.calls.get(d.stopReason);
        if (!calls) {
          calls = this.#counters.modelCalls.slot({ model: d.model, finish_reason: d.stopReason });
          series.calls.set(d.stopReason, calls);
        }
        calls.pending++;
        series.duration.observe(d.durationMs / 1000);
        series.cost.pending += d.costUsd;
        series.input.pending += d.usage.inputTokens;
        series.output.pending += d.usage.outputTokens;
        series.cacheRead.pending += d.usage.cacheReadTokens;
        series.cacheWrite.pending += d.usage.cacheWriteTokens;
        return;
      }
      case "model_retry":
        m.retries.inc({ model: e.data.model });
        return;
      case "model_fallback":
        m.fallbacks.inc({ from: e.data.from, to: e.data.to });
        return;
      case "approval_requested":
        this.#run(e.runId).approvals.set(e.data.callId, e.ts);
        m.approvalsPending.inc();
        return;
      case "tool_call_decided": {
        const run = this.#run(e.runId);
        const d = e.data;
        // A name the session does not list becomes a label of its own only once its input validated
        // (a registered tool); a listed name needs no such note.
        if (
          !this.#knownTools.has(d.tool) &&
          d.stages[0]?.stage === "validate" &&
          d.stages[0].outcome === "pass"
        )
          run.validTools.add(d.callId);
        const asked = run.approvals.get(d.callId);
        if (asked !== undefined) {
          run.approvals.delete(d.callId);
          m.approvalsPending.dec();
          const outcome = d.approval?.outcome ?? "denied";
          m.approvalWait.observe({ outcome }, Math.max(0, e.ts - asked) / 1000);
        }
        if (d.verdict === "deny")
          for (const s of d.stages)
            if (s.stage === "guards" && s.outcome === "deny")
              m.guardStops.inc({ guard: s.by, scope: "call" });
        return;
      }
      case "content_flagged":
        m.flagged.inc({ kind: e.data.kind });
        return;
      case "tool_call_finished": {
        const d = e.data;
        const run = this.#runs.get(e.runId);
        const tool = this.#tool(d.tool, run, d.callId);
        if (run && run.validTools.size > 0) run.validTools.delete(d.callId);
        const series = this.#toolSeries(tool, toolOutcome(d));
        series.calls.pending++;
        if (d.executed) series.duration.observe(d.durationMs / 1000);
        if (d.sandbox) m.sandboxStartup.observe({ backend: d.sandbox.backend }, d.sandbox.startupMs / 1000);
        return;
      }
      case "run_ended": {
        const d = e.data;
        const run = this.#runs.get(e.runId);
        if (run) {
          // Approvals still open when the run ended are no longer pending.
          for (const _ of run.approvals) m.approvalsPending.dec();
          this.#runs.delete(e.runId);
        }
        m.runs.inc({ status: d.status, stop_reason: d.stopReason.type });
        m.runDuration.observe({ status: d.status }, d.durationMs / 1000);
        m.runTurns.observe({}, d.turns);
        m.runCost.observe({}, d.costUsd);
        if (GUARD_STOPS.has(d.stopReason.type)) m.guardStops.inc({ guard: d.stopReason.type, scope: "run" });
        return;
      }
      default:
        return;
    }
  }
}

/** Every metric Rein exports; README's "Metrics" table describes each. */
export function defineMetrics(
  client: PromClient,
  registry: Registry,
  /** A `collect` hook for every metric, by name (the counters that batch their increments by their key). */
  collector?: (name: BatchedCounter | "other") => () => void,
) {
  const registers = [registry];
  const other = collector?.("other");
  const hook = (collect: (() => void) | undefined) => (collect ? { collect } : {});
  const counter = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    batched?: BatchedCounter,
  ): Counter<L> =>
    new client.Counter({
      name,
      help,
      labelNames,
      registers,
      ...hook(batched ? collector?.(batched) : other),
    });
  const histogram = (name: string, help: string, labelNames: readonly string[], buckets: number[]) =>
    new BucketHistogram(name, help, labelNames, buckets, registry, other);
  const gauge = (name: string, help: string): Gauge =>
    new client.Gauge({ name, help, registers, ...hook(other) });
  return {
    runs: counter("rein_runs_total", "Runs ended, by status and stop reason.", ["status", "stop_reason"]),
    runDuration: histogram(
      "rein_run_duration_seconds",
      "Wall-clock duration of a run.",
      ["status"],
      [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    ),
    runTurns: histogram(
      "rein_run_turns",
      "Model calls (turns) per run.",
      [],
      [1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 100],
    ),
    runCost: histogram(
      "rein_run_cost_usd",
      "Cost of a run in USD.",
      [],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 25],
    ),
    cost: counter("rein_model_cost_usd_total", "Model spend in USD, by model.", ["model"], "cost"),
    tokens: counter(
      "rein_model_tokens_total",
      "Tokens by model and type (input, output, cache_read, cache_write).",
      ["model", "type"],
      "tokens",
    ),
    modelCalls: counter(
      "rein_model_calls_total",
      "Model calls finished, by model and finish reason.",
      ["model", "finish_reason"],
      "modelCalls",
    ),
    modelCallDuration: histogram(
      "rein_model_call_duration_seconds",
      "Duration of a model call (all its attempts).",
      ["model"],
      TIME_BUCKETS,
    ),
    retries: counter("rein_model_retries_total", "Model call attempts retried by the gateway, by model.", [
      "model",
    ]),
    fallbacks: counter("rein_model_fallbacks_total", "Moves to the next model of a fallback chain.", [
      "from",
      "to",
    ]),
    toolCalls: counter(
      "rein_tool_calls_total",
      "Tool calls by tool and outcome (ok, error, denied).",
      ["tool", "outcome"],
      "toolCalls",
    ),
    toolDuration: histogram(
      "rein_tool_duration_seconds",
      "Execution time of tool calls that ran, by tool and outcome.",
      ["tool", "outcome"],
      TIME_BUCKETS,
    ),
    approvalsPending: gauge("rein_approvals_pending", "Tool calls waiting for an approval decision now."),
    approvalWait: histogram(
      "rein_approval_wait_seconds",
      "Time from an approval request to its decision, by outcome.",
      ["outcome"],
      [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    ),
    sandboxStartup: histogram(
      "rein_sandbox_startup_seconds",
      "Time for a sandboxed command to start, by backend.",
      ["backend"],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10],
    ),
    guardStops: counter(
      "rein_guard_stops_total",
      "Guard refusals: calls a guard denied (scope=call) and runs a guard or limit stopped (scope=run).",
      ["guard", "scope"],
    ),
    flagged: counter("rein_content_flagged_total", "Tool results flagged (prompt_injection, secret).", [
      "kind",
    ]),
  };
}
