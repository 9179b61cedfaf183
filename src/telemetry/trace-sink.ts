import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { EventSink, ReinEvent } from "../protocol/events.js";
import { GUARD_STOPS, splitModelId, toolOutcome, truncate } from "./event-facts.js";

export interface TraceSinkOptions {
  /** Put tool inputs and results on `execute_tool` spans (already redacted; truncated). Default false. */
  readonly recordContent?: boolean;
  /** Longest content attribute, in characters (default 4,096). */
  readonly maxContentChars?: number;
}

interface RunSpans {
  readonly span: Span;
  readonly ctx: Context;
  /**
   * Open `chat` and `execute_tool` spans. Their attributes are gathered here and set on the span once,
   * when it ends (one SDK call per span): attributes given at the start would be copied and checked
   * three times by the SDK, and no sampler the `OTEL_*` variables can choose reads them.
   */
  readonly chats: Map<
    number,
    { span: Span; retries: number; fallbacks: number; rateWaitMs: number; attrs: Attributes }
  >;
  readonly tools: Map<string, { span: Span; approvalTs?: number; attrs: Attributes }>;
}

/** `provider:model` split once per model id (a run calls the same few models again and again). */
const splitCache = new Map<string, { provider: string; model: string }>();
function split(id: string): { provider: string; model: string } {
  let m = splitCache.get(id);
  if (!m) {
    m = splitModelId(id);
    if (splitCache.size >= 256) splitCache.clear();
    splitCache.set(id, m);
  }
  return m;
}

function json(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "null";
  } catch {
    return '"[unserialisable]"';
  }
}

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

  constructor(tracer: Tracer, options: TraceSinkOptions = {}) {
    this.#tracer = tracer;
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

  handle(event: ReinEvent): void {
    try {
      this.#handle(event);
    } catch {
      this.failures++;
    }
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
          chats: new Map(),
          tools: new Map(),
        });
        return;
      }
      case "model_call_started": {
        const run = this.#runs.get(e.runId);
        if (!run) return;
        const m = split(e.data.model);
        const span = this.#tracer.startSpan(
          `chat ${m.model}`,
          { kind: SpanKind.CLIENT, startTime: e.ts },
          run.ctx,
        );
        const attrs: Attributes = {
          "gen_ai.operation.name": "chat",
          "gen_ai.provider.name": m.provider,
          "gen_ai.request.model": m.model,
          "rein.turn": e.data.turn,
        };
        run.chats.set(e.data.turn, { span, retries: 0, fallbacks: 0, rateWaitMs: 0, attrs });
        return;
      }
      case "model_retry": {
        const chat = this.#runs.get(e.runId)?.chats.get(e.data.turn);
        if (!chat) return;
        chat.retries++;
        chat.span.addEvent(
          "rein.model.retry",
          {
            "rein.retry.attempt": e.data.attempt,
            "rein.retry.delay_ms": e.data.delayMs,
            "rein.retry.reason": e.data.reason,
            ...(e.data.status !== null ? { "http.response.status_code": e.data.status } : {}),
          },
          e.ts,
        );
        return;
      }
      case "model_fallback": {
        const chat = this.#runs.get(e.runId)?.chats.get(e.data.turn);
        if (!chat) return;
        chat.fallbacks++;
        chat.span.addEvent(
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
        const chat = this.#runs.get(e.runId)?.chats.get(e.data.turn);
        if (chat) chat.rateWaitMs += e.data.waitMs;
        return;
      }
      case "model_call_finished": {
        const run = this.#runs.get(e.runId);
        const chat = run?.chats.get(e.data.turn);
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
        chat.span.setAttributes(attrs);
        chat.span.end(e.ts);
        run.chats.delete(d.turn);
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
        if (this.#content) attrs["gen_ai.tool.call.arguments"] = truncate(json(e.data.input), this.#max);
        const span = this.#tracer.startSpan(
          `execute_tool ${e.data.tool}`,
          { kind: SpanKind.INTERNAL, startTime: e.ts },
          run.ctx,
        );
        run.tools.set(e.data.callId, { span, attrs });
        return;
      }
      case "approval_requested": {
        const tool = this.#runs.get(e.runId)?.tools.get(e.data.callId);
        if (!tool) return;
        tool.approvalTs = e.ts;
        tool.attrs["rein.approval.by"] = e.data.by;
        return;
      }
      case "tool_call_decided": {
        const tool = this.#runs.get(e.runId)?.tools.get(e.data.callId);
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
        const tool = this.#runs.get(e.runId)?.tools.get(e.data.callId);
        tool?.span.addEvent(
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
        const tool = run?.tools.get(e.data.callId);
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
        tool.span.setAttributes(attrs);
        if (!d.ok) tool.span.setStatus({ code: SpanStatusCode.ERROR, message: d.errorType ?? "error" });
        tool.span.end(e.ts);
        run.tools.delete(d.callId);
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
        for (const chat of run.chats.values()) {
          chat.span.setAttributes(chat.attrs);
          endUnfinished(chat.span, e.ts);
        }
        for (const tool of run.tools.values()) {
          tool.span.setAttributes(tool.attrs);
          endUnfinished(tool.span, e.ts);
        }
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

function endUnfinished(span: Span, ts: number): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: "the run ended first" });
  span.end(ts);
}

function flat(data: object): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(data)) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[`rein.${k}`] = v;
  }
  return out;
}
