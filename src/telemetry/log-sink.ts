import { ReinError } from "../protocol/errors.js";
import type { EventSink, ReinEvent } from "../protocol/events.js";
import { type LogLevel, parseLogLevel } from "../protocol/log-level.js";
import { toolOutcome, truncate } from "./event-facts.js";

export { LOG_LEVELS, type LogLevel, parseLogLevel } from "../protocol/log-level.js";

type LogFn = (fields: Record<string, unknown>, message: string) => void;

/** What Rein logs to: a pino logger, or anything with the same four methods (`(fields, message)`). */
export interface ReinLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** pino's: lets Rein skip building lines nobody reads. */
  isLevelEnabled?: (level: string) => boolean;
}

export interface LogSinkOptions {
  /** The trace and span of a run, so each line carries `traceId` (give `tracing.sink.traceOf`). */
  readonly traceOf?: (runId: string) => { traceId: string; spanId: string } | undefined;
}

/** Checks a user-given logger and level; a bad one is `REIN_TELEMETRY_INVALID`. */
export function checkLogger(logger: unknown): ReinLogger {
  const l = logger as Record<string, unknown> | null;
  const missing = ["debug", "info", "warn", "error"].filter((k) => typeof l?.[k] !== "function");
  if (typeof logger !== "object" || logger === null || missing.length > 0)
    throw new ReinError(
      "REIN_TELEMETRY_INVALID",
      `logger must be a pino logger or an object with debug, info, warn and error functions; missing: ${missing.join(", ") || "an object"}.`,
      { field: "logger" },
    );
  return logger as ReinLogger;
}

type Line = { level: "debug" | "info" | "warn" | "error"; msg: string; fields: Record<string, unknown> };

/** The log line of an event, or undefined for events not logged (streamed text). */
function lineOf(e: ReinEvent): Line | undefined {
  switch (e.type) {
    case "session_started":
      return { level: "info", msg: "session started", fields: { model: e.data.model, tools: e.data.tools } };
    case "run_started":
      return { level: "info", msg: "run started", fields: { task: truncate(e.data.task, 500) } };
    case "model_call_started":
      return {
        level: "debug",
        msg: "model call started",
        fields: { turn: e.data.turn, model: e.data.model },
      };
    case "model_call_finished": {
      const d = e.data;
      return {
        level: "debug",
        msg: "model call finished",
        fields: {
          turn: d.turn,
          model: d.model,
          finishReason: d.stopReason,
          inputTokens: d.usage.inputTokens,
          outputTokens: d.usage.outputTokens,
          costUsd: d.costUsd,
          durationMs: d.durationMs,
        },
      };
    }
    case "model_retry":
      return { level: "warn", msg: "model call retried", fields: { ...e.data } };
    case "model_fallback":
      return { level: "warn", msg: "model fallback", fields: { ...e.data } };
    case "model_breaker":
      return { level: "warn", msg: "model circuit breaker changed", fields: { ...e.data } };
    case "model_rate_wait":
      return { level: "debug", msg: "waited for the rate limit", fields: { ...e.data } };
    case "tool_call_requested":
      return {
        level: "debug",
        msg: "tool call requested",
        fields: { turn: e.data.turn, callId: e.data.callId, tool: e.data.tool },
      };
    case "approval_requested":
      return {
        level: "info",
        msg: "approval requested",
        fields: {
          callId: e.data.callId,
          tool: e.data.tool,
          risk: e.data.risk.level,
          rule: e.data.risk.rule,
          by: e.data.by,
        },
      };
    case "tool_call_decided": {
      const d = e.data;
      const denied = d.stages.find((s) => s.outcome === "deny");
      return {
        level: d.verdict === "deny" ? "warn" : "debug",
        msg: d.verdict === "deny" ? "tool call denied" : "tool call allowed",
        fields: {
          turn: d.turn,
          callId: d.callId,
          tool: d.tool,
          risk: d.risk?.level ?? null,
          rule: d.risk?.rule ?? null,
          ...(d.approval ? { approval: d.approval.outcome } : {}),
          ...(denied ? { deniedBy: denied.by, reason: denied.note ?? null } : {}),
        },
      };
    }
    case "tool_call_started":
      return {
        level: "debug",
        msg: "tool call started",
        fields: { turn: e.data.turn, callId: e.data.callId, tool: e.data.tool },
      };
    case "tool_call_finished": {
      const d = e.data;
      const outcome = toolOutcome(d);
      return {
        level: outcome === "error" ? "warn" : outcome === "ok" ? "info" : "debug",
        msg: "tool call finished",
        fields: {
          turn: d.turn,
          callId: d.callId,
          tool: d.tool,
          outcome,
          errorType: d.errorType,
          durationMs: Math.round(d.durationMs),
          ...(d.sandbox ? { sandbox: d.sandbox.backend, sandboxStartupMs: d.sandbox.startupMs } : {}),
        },
      };
    }
    case "content_flagged":
      return {
        level: "warn",
        msg: "tool result flagged",
        fields: {
          callId: e.data.callId,
          tool: e.data.tool,
          kind: e.data.kind,
          by: e.data.by,
          severity: e.data.severity,
          score: e.data.score,
        },
      };
    case "limit_warning":
    case "budget_warning":
      return { level: "warn", msg: e.type.replace("_", " "), fields: { ...e.data } };
    case "stall_warning":
      return {
        level: "warn",
        msg: "stall warning",
        fields: { turn: e.data.turn, kind: e.data.kind, repeats: e.data.repeats },
      };
    case "circuit_changed":
      return { level: "warn", msg: "circuit changed", fields: { ...e.data } };
    case "run_ended": {
      const d = e.data;
      return {
        level: d.status === "failed" ? "error" : d.status === "completed" ? "info" : "warn",
        msg: "run ended",
        fields: {
          status: d.status,
          stopReason: d.stopReason.type,
          ...(d.stopReason.type === "error" ? { code: d.stopReason.code } : {}),
          turns: d.turns,
          costUsd: d.costUsd,
          durationMs: Math.round(d.durationMs),
        },
      };
    }
    case "session_ended":
      return { level: "info", msg: "session ended", fields: { runs: e.data.runs, costUsd: e.data.costUsd } };
    default:
      return undefined;
  }
}

/**
 * An `EventSink` that writes one structured log line per notable event, each with `sessionId`, `runId`,
 * `tenantId`, `seq`, `event` and (with tracing) `traceId`/`spanId`. It reads the events the session
 * appended, so what it logs is redacted like the log. A logger that throws never stops a run.
 *
 * @example
 * const logger = await createLogger({ level: "info" });
 * createHarness({ model: "scripted:demo", sinks: [logSink(logger)] });
 */
export function logSink(
  logger: ReinLogger,
  options: LogSinkOptions = {},
): EventSink & { failures(): number } {
  const target = checkLogger(logger);
  let failures = 0;
  return {
    name: "logs",
    failures: () => failures,
    handle(event: ReinEvent) {
      try {
        const line = lineOf(event);
        if (!line) return;
        if (target.isLevelEnabled && !target.isLevelEnabled(line.level)) return;
        const trace = options.traceOf?.(event.runId);
        target[line.level](
          {
            event: event.type,
            sessionId: event.sessionId,
            ...(event.runId ? { runId: event.runId } : {}),
            tenantId: event.tenantId,
            seq: event.seq,
            ...(trace ? { traceId: trace.traceId, spanId: trace.spanId } : {}),
            ...line.fields,
          },
          line.msg,
        );
      } catch {
        failures++;
      }
    },
  };
}

export interface CreateLoggerOptions {
  /** Default `info`. */
  readonly level?: LogLevel;
  /** Where lines go (default: stderr). */
  readonly destination?: { write(line: string): unknown };
  /** Human-readable lines instead of JSON (default: when the destination is stderr and stderr is a TTY). */
  readonly pretty?: boolean;
  /** Colours in pretty lines (default: unless `NO_COLOR` is set). */
  readonly color?: boolean;
}

/**
 * A pino logger (loaded on first use) writing JSON lines, or pretty ones on a terminal. `NO_COLOR`
 * turns colours off.
 *
 * @example
 * const logger = await createLogger({ level: "debug" });
 */
export async function createLogger(options: CreateLoggerOptions = {}) {
  const level = parseLogLevel(options.level ?? "info");
  const { pino } = await import("pino");
  const toStderr = options.destination === undefined;
  const pretty = options.pretty ?? (toStderr && process.stderr.isTTY === true);
  const raw = options.destination ?? pino.destination({ fd: 2, sync: true });
  if (!pretty) return pino({ level }, raw as never);
  const { prettyLine } = await import("./pretty-log.js");
  const color = options.color ?? !("NO_COLOR" in process.env && process.env.NO_COLOR !== "");
  return pino({ level }, { write: (line: string) => raw.write(prettyLine(line, color)) } as never);
}
