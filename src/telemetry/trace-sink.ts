import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanStatus,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { EventSink, ReinEvent } from "../protocol/events.js";
import { EventBatch } from "./event-batch.js";
import { GUARD_STOPS, splitModelId, toolOutcome, truncate } from "./event-facts.js";
import type { FinishedSpanRecorder, SpanEvents } from "./finished-span.js";

export interface TraceSinkOptions {
  /** Put tool inputs and results on `execute_tool` spans (already redacted; truncated). Default false. */
  readonly recordContent?: boolean;
  /** Longest content attribute, in characters (default 4,096). */
  readonly maxContentChars?: number;
}

/**
 * An open `chat` or `execute_tool` span: what it will hold, gathered while the call runs. The span is
 * made when the call ends (FinishedSpanRecorder), attributes and all in one go.
 */
interface OpenSpan extends SpanEvents {
  readonly name: string;
  readonly startMs: number;
  readonly attrs: Attributes;
}

interface OpenChat extends OpenSpan {
  readonly turn: number;
  retries: number;
  fallbacks: number;
  rateWaitMs: number;
}

interface OpenTool extends OpenSpan {
  readonly callId: string;
  approvalTs: number | undefined;
}

interface RunSpans {
  readonly span: Span;
  readonly ctx: Context;
  readonly parent: SpanContext;
  /** Open calls: one or a few at a time, so a short array (found by identity of the id) beats a map. */
  readonly chats: OpenChat[];
  readonly tools: OpenTool[];
}

function find<T extends OpenChat | OpenTool>(open: readonly T[], match: (s: T) => boolean): T | undefined {
  for (let i = 0; i < open.length; i++) if (match(open[i] as T)) return open[i];
  return undefined;
}

function remove<T>(open: T[], item: T): void {
  const i = open.indexOf(item);
  if (i >= 0) open.splice(i, 1);
}

/** `provider:model` split once per model id (a run calls the same few models again and again). */
const splitCache = new Map<string, { provider: string; model: string; span: string }>();
function split(id: string): { provider: string; model: string; span: string } {
  let m = splitCache.get(id);
  if (!m) {
    const { provider, model } = splitModelId(id);
    m = { provider, model, span: `chat ${model}` };
    if (splitCache.size >= 256) splitCache.clear();
    splitCache.set(id, m);
  }
  return m;
}

/** `execute_tool <name>`, made once per tool name. */
const toolSpanNames = new Map<string, string>();
function toolSpanName(tool: string): string {
  let name = toolSpanNames.get(tool);
  if (name === undefined) {
    name = `execute_tool ${tool}`;
    if (toolSpanNames.size >= 256) toolSpanNames.clear();
    toolSpanNames.set(tool, name);
  }
  return name;
}

function json(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "null";
  } catch {
    return '"[unserialisable]"';
  }
}

const UNFINISHED: SpanStatus = { code: SpanStatusCode.ERROR, message: "the run ended first" };

/**
 * An `EventSink` that turns Rein's events into OpenTelemetry spans named by the GenAI semantic
 * conventions: `invoke_agent` per run, `chat` per model call and `execute_tool` per tool call (children
 * of the run's span), with Rein's own attributes under `rein.`. It reads the events the session
 * appended (redacted by the session's filter) and nothing else. Span times are the events' `ts`.
 * A failure here never stops a run: it is counted in `failures`.
 */
export class TraceSink implements EventSink {
  readonly name = "otel-traces";
  readonly #tracer: Tracer;
  readonly #content: boolean;
  readonly #max: number;
  readonly #runs = new Map<string, RunSpans>();
  readonly #sessionModel = new Map<string, string>();
  /** The run that ended last, so a sink after this one still finds its trace for `run_ended`. */
  #lastEnded: { runId: string; span: Span } | undefined;
  /** Events this sink could not turn into spans (a bug or an SDK fault); the run went on. */
  failures = 0;

  readonly #spans: FinishedSpanRecorder;

  /** `tracer` makes each run's span; `spans` makes its `chat` and `execute_tool` spans (same provider parts). */
  constructor(tracer: Tracer, spans: FinishedSpanRecorder, options: TraceSinkOptions = {}) {
    this.#tracer = tracer;
    this.#spans = spans;
    this.#content = options.recordContent === true;
    this.#max = options.maxContentChars ?? 4096;
  }

  /** The trace and span ids of a run in progress (for logs), or undefined. */
  traceOf(runId: string): { traceId: string; spanId: string } | undefined {
    const span =
      this.#runs.get(runId)?.span ?? (this.#lastEnded?.runId === runId ? this.#lastEnded.span : undefined);
    const s = span?.spanContext();
    return s ? { traceId: s.traceId, spanId: s.spanId } : undefined;
  }

  readonly #batch = new EventBatch((event) => {
    try {
      this.#handle(event);
    } catch {
      this.failures++;
    }
  });

  /**
   * Takes the event; its spans are made in batches (see EventBatch). A run's span is opened as soon as
   * the run starts (`traceOf` answers for it at once) and every span of a run ends when it ends.
   */
  handle(event: ReinEvent): void {
    this.#batch.add(event);
    const t = event.type;
    if (t === "run_started" || t === "run_ended" || t === "session_ended") this.#batch.drain();
  }

  /** Makes the spans of the events taken so far (before a flush or shutdown). */
  drain(): void {
    this.#batch.drain();
  }

  #chat(runId: string, turn: number): OpenChat | undefined {
    const run = this.#runs.get(runId);
    return run && find(run.chats, (c) => c.turn === turn);
  }

  #tool(runId: string, callId: string): OpenTool | undefined {
    const run = this.#runs.get(runId);
    return run && find(run.tools, (t) => t.callId === callId);
  }

  #end(run: RunSpans, open: OpenSpan, kind: SpanKind, endMs: number, status: SpanStatus | undefined): void {
    this.#spans.record(run.ctx, run.parent, {
      name: open.name,
      kind,
      startMs: open.startMs,
      endMs,
      attributes: open.attrs,
      events: open.events,
      droppedEvents: open.droppedEvents,
      status,
    });
  }

  #handle(e: ReinEvent): void {
    switch (e.type) {
      case "session_started":
        this.#sessionModel.set(e.sessionId, e.data.model);
        return;
      case "session_ended":
        this.#sessionModel.delete(e.sessionId);
        return;
      case "run_started": {
        const model = this.#sessionModel.get(e.sessionId);
        const attributes: Attributes = {
          "gen_ai.operation.name": "invoke_agent",
          "gen_ai.agent.name": "rein",
          "gen_ai.conversation.id": e.sessionId,
          "rein.session.id": e.sessionId,
          "rein.run.id": e.runId,
          "rein.tenant.id": e.tenantId,
          "rein.limits.max_turns": e.data.limits.maxTurns,
        };
        if (model) {
          const m = splitModelId(model);
          attributes["gen_ai.provider.name"] = m.provider;
          attributes["gen_ai.request.model"] = m.model;
        }
        const span = this.#tracer.startSpan(
          "invoke_agent rein",
          { kind: SpanKind.INTERNAL, startTime: e.ts, attributes },
          ROOT_CONTEXT,
        );
        this.#runs.set(e.runId, {
          span,
          ctx: trace.setSpan(ROOT_CONTEXT, span),
          parent: span.spanContext(),
          chats: [],
          tools: [],
        });
        return;
      }
      case "model_call_started": {
        const run = this.#runs.get(e.runId);
        if (!run) return;
        const m = split(e.data.model);
        run.chats.push({
          name: m.span,
          startMs: e.ts,
          turn: e.data.turn,
          retries: 0,
          fallbacks: 0,
          rateWaitMs: 0,
          attrs: {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": m.provider,
            "gen_ai.request.model": m.model,
            "rein.turn": e.data.turn,
          },
          events: undefined,
          droppedEvents: undefined,
        });
        return;
      }
      case "model_retry": {
        const chat = this.#chat(e.runId, e.data.turn);
        if (!chat) return;
        chat.retries++;
        const attrs: Attributes = {
          "rein.retry.attempt": e.data.attempt,
          "rein.retry.delay_ms": e.data.delayMs,
          "rein.retry.reason": e.data.reason,
        };
        if (e.data.status !== null) attrs["http.response.status_code"] = e.data.status;
        this.#spans.addEvent(chat, "rein.model.retry", attrs, e.ts);
        return;
      }
      case "model_fallback": {
        const chat = this.#chat(e.runId, e.data.turn);
        if (!chat) return;
        chat.fallbacks++;
        this.#spans.addEvent(
          chat,
          "rein.model.fallback",
          {
            "rein.fallback.from": e.data.from,
            "rein.fallback.to": e.data.to,
            "rein.fallback.reason": e.data.reason,
          },
          e.ts,
        );
        return;
      }
      case "model_rate_wait": {
        const chat = this.#chat(e.runId, e.data.turn);
        if (chat) chat.rateWaitMs += e.data.waitMs;
        return;
      }
      case "model_call_finished": {
        const run = this.#runs.get(e.runId);
        const turn = e.data.turn;
        const chat = run && find(run.chats, (c) => c.turn === turn);
        if (!run || !chat) return;
        const d = e.data;
        const attrs = chat.attrs;
        attrs["gen_ai.response.model"] = split(d.model).model;
        attrs["gen_ai.response.finish_reasons"] = [d.stopReason];
        attrs["gen_ai.usage.input_tokens"] = d.usage.inputTokens;
        attrs["gen_ai.usage.output_tokens"] = d.usage.outputTokens;
        attrs["gen_ai.usage.cache_read.input_tokens"] = d.usage.cacheReadTokens;
        attrs["gen_ai.usage.cache_creation.input_tokens"] = d.usage.cacheWriteTokens;
        attrs["rein.cost_usd"] = d.costUsd;
        attrs["rein.model.retries"] = chat.retries;
        attrs["rein.model.fallbacks"] = chat.fallbacks;
        attrs["rein.model.rate_wait_ms"] = chat.rateWaitMs;
        if (chat.fallbacks > 0) attrs["rein.model.fallback_to"] = d.model;
        this.#end(run, chat, SpanKind.CLIENT, e.ts, undefined);
        remove(run.chats, chat);
        return;
      }
      case "tool_call_requested": {
        const run = this.#runs.get(e.runId);
        if (!run) return;
        const attrs: Attributes = {
          "gen_ai.operation.name": "execute_tool",
          "gen_ai.tool.name": e.data.tool,
          "gen_ai.tool.call.id": e.data.callId,
          "gen_ai.tool.type": "function",
          "rein.turn": e.data.turn,
        };
        // Never computed when content is off (the default): the input is not serialised at all.
        if (this.#content) attrs["gen_ai.tool.call.arguments"] = truncate(json(e.data.input), this.#max);
        run.tools.push({
          name: toolSpanName(e.data.tool),
          startMs: e.ts,
          callId: e.data.callId,
          approvalTs: undefined,
          attrs,
          events: undefined,
          droppedEvents: undefined,
        });
        return;
      }
      case "approval_requested": {
        const tool = this.#tool(e.runId, e.data.callId);
        if (!tool) return;
        tool.approvalTs = e.ts;
        tool.attrs["rein.approval.by"] = e.data.by;
        return;
      }
      case "tool_call_decided": {
        const tool = this.#tool(e.runId, e.data.callId);
        if (!tool) return;
        const d = e.data;
        const attrs = tool.attrs;
        attrs["rein.decision"] = d.verdict;
        if (d.risk) {
          attrs["rein.risk.level"] = d.risk.level;
          attrs["rein.risk.rule"] = d.risk.rule;
          attrs["rein.risk.reason"] = truncate(d.risk.reason, 512);
        }
        if (d.approval) {
          attrs["rein.approval.outcome"] = d.approval.outcome;
          attrs["rein.approval.by"] = d.approval.by;
        }
        if (tool.approvalTs !== undefined) attrs["rein.approval.wait_ms"] = e.ts - tool.approvalTs;
        const denied = d.verdict === "deny" ? d.stages.find((s) => s.outcome === "deny") : undefined;
        if (denied) {
          attrs["rein.denied.stage"] = denied.stage;
          attrs["rein.denied.by"] = denied.by;
          if (denied.stage === "guards") attrs["rein.guard.stop"] = denied.by;
        }
        return;
      }
      case "content_flagged": {
        const tool = this.#tool(e.runId, e.data.callId);
        if (!tool) return;
        this.#spans.addEvent(
          tool,
          "rein.content_flagged",
          {
            "rein.flag.kind": e.data.kind,
            "rein.flag.by": e.data.by,
            "rein.flag.severity": e.data.severity,
            "rein.flag.score": e.data.score,
          },
          e.ts,
        );
        return;
      }
      case "tool_call_finished": {
        const run = this.#runs.get(e.runId);
        const callId = e.data.callId;
        const tool = run && find(run.tools, (t) => t.callId === callId);
        if (!run || !tool) return;
        const d = e.data;
        const attrs = tool.attrs;
        attrs["rein.tool.executed"] = d.executed;
        attrs["rein.tool.outcome"] = toolOutcome(d);
        attrs["rein.tool.duration_ms"] = d.durationMs;
        if (d.errorType) attrs["error.type"] = d.errorType;
        if (d.sandbox) {
          attrs["rein.sandbox.backend"] = d.sandbox.backend;
          attrs["rein.sandbox.startup_ms"] = d.sandbox.startupMs;
        }
        if (this.#content) attrs["gen_ai.tool.call.result"] = truncate(d.content, this.#max);
        const status = d.ok ? undefined : { code: SpanStatusCode.ERROR, message: d.errorType ?? "error" };
        this.#end(run, tool, SpanKind.INTERNAL, e.ts, status);
        remove(run.tools, tool);
        return;
      }
      case "stall_warning":
      case "budget_warning":
      case "limit_warning":
      case "circuit_changed": {
        const run = this.#runs.get(e.runId);
        run?.span.addEvent(`rein.${e.type}`, flat(e.data), e.ts);
        return;
      }
      case "run_ended": {
        const run = this.#runs.get(e.runId);
        if (!run) return;
        const d = e.data;
        // A model call or tool call the run did not finish still ends with it.
        for (const chat of run.chats) this.#end(run, chat, SpanKind.CLIENT, e.ts, UNFINISHED);
        for (const tool of run.tools) this.#end(run, tool, SpanKind.INTERNAL, e.ts, UNFINISHED);
        const attrs: Attributes = {
          "rein.run.status": d.status,
          "rein.stop_reason": d.stopReason.type,
          "rein.run.turns": d.turns,
          "gen_ai.usage.input_tokens": d.usage.inputTokens,
          "gen_ai.usage.output_tokens": d.usage.outputTokens,
          "rein.cost_usd": d.costUsd,
        };
        if (GUARD_STOPS.has(d.stopReason.type)) attrs["rein.guard.stop"] = d.stopReason.type;
        if (d.stopReason.type === "error") attrs["error.type"] = d.stopReason.code;
        run.span.setAttributes(attrs);
        if (d.status === "failed")
          run.span.setStatus({ code: SpanStatusCode.ERROR, message: d.stopReason.type });
        run.span.end(e.ts);
        this.#runs.delete(e.runId);
        this.#lastEnded = { runId: e.runId, span: run.span };
        return;
      }
      default:
        return;
    }
  }
}

function flat(data: object): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(data)) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[`rein.${k}`] = v;
  }
  return out;
}
