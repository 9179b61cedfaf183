import { type Command, InvalidArgumentError } from "commander";
import type { EventSink } from "../protocol/events.js";
import { createLogger, type LogLevel, logSink, parseLogLevel } from "../telemetry/log-sink.js";
import type { MetricsServer } from "../telemetry/metrics.js";
import type { Tracing } from "../telemetry/tracing.js";
import { terminalSafeText } from "./terminal-text.js";

/** What `rein run`'s observability flags asked for. */
export interface ObservabilityFlags {
  /** `--otel`: export traces by OTLP/HTTP (also on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set). */
  readonly otel?: boolean;
  /** `--otel-content`: tool inputs and results on spans (redacted, truncated). */
  readonly otelContent?: boolean;
  /** `--metrics-port`: serve Prometheus `/metrics` on 127.0.0.1 during the run (0: any free port). */
  readonly metricsPort?: number;
  /** `--metrics-host`: the address to serve on (default 127.0.0.1). */
  readonly metricsHost?: string;
  /** `--log-level` (or `REIN_LOG_LEVEL`): structured logs on stderr; off when absent. */
  readonly logLevel?: LogLevel;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new InvalidArgumentError(`--metrics-port must be a port number from 0 to 65535, got "${value}".`);
  return n;
}

function level(value: string): LogLevel {
  try {
    return parseLogLevel(value, "--log-level");
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Adds `--otel`, `--otel-content`, `--metrics-port`, `--metrics-host` and `--log-level` to a command. */
export function addObservabilityOptions(command: Command): Command {
  return command
    .option(
      "--otel",
      "export OpenTelemetry traces by OTLP/HTTP (endpoint from OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318); on when that variable is set",
    )
    .option("--otel-content", "put tool inputs and results on spans (redacted, truncated)")
    .option(
      "--metrics-port <port>",
      "serve Prometheus /metrics on this port during the run (0: any free port)",
      port,
    )
    .option("--metrics-host <address>", "address of the /metrics server (default 127.0.0.1)")
    .option(
      "--log-level <level>",
      "structured logs on stderr (JSON; pretty on a terminal): trace, debug, info, warn, error, fatal or silent (default: REIN_LOG_LEVEL, else off)",
      level,
    );
}

/** The flags of a parsed command, with `REIN_LOG_LEVEL` as the log level's default. */
export function observabilityFlags(
  o: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): ObservabilityFlags {
  const fromEnv = env.REIN_LOG_LEVEL?.trim();
  return {
    otel: o.otel === true,
    otelContent: o.otelContent === true,
    ...(typeof o.metricsPort === "number" ? { metricsPort: o.metricsPort } : {}),
    ...(typeof o.metricsHost === "string" ? { metricsHost: o.metricsHost } : {}),
    ...(typeof o.logLevel === "string"
      ? { logLevel: o.logLevel as LogLevel }
      : fromEnv
        ? { logLevel: parseLogLevel(fromEnv, "REIN_LOG_LEVEL") }
        : {}),
  };
}

/** The sinks the flags ask for, and what to say and stop at the end. */
export interface Observability {
  readonly sinks: readonly EventSink[];
  /** Lines for the final summary: where traces and metrics went. */
  summary(): string[];
  /** Flushes traces and stops the metrics server. Never rejects. */
  stop(): Promise<void>;
}

/**
 * Starts what the flags ask for, before the run: a port in use is a `REIN_METRICS_SERVER_FAILED`
 * now, not after the run. Tracing, metrics and pino load only when asked for.
 */
export async function startObservability(flags: ObservabilityFlags = {}): Promise<Observability> {
  const { tracingRequestedByEnv } = await import("../telemetry/tracing.js");
  const sinks: EventSink[] = [];
  let tracing: Tracing | undefined;
  let server: MetricsServer | undefined;
  if (flags.otel || tracingRequestedByEnv()) {
    const { createTracing } = await import("../telemetry/tracing.js");
    tracing = await createTracing({
      ...(flags.otelContent ? { recordContent: true } : {}),
      // A CLI run should not outlive its collector's silence by 10 s: 3 s unless the variable says otherwise.
      ...(process.env.OTEL_EXPORTER_OTLP_TIMEOUT || process.env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT
        ? {}
        : { exportTimeoutMs: 3_000 }),
    });
    sinks.push(tracing.sink);
  }
  if (flags.metricsPort !== undefined) {
    const { createMetrics } = await import("../telemetry/metrics.js");
    const metrics = await createMetrics({ processMetrics: true });
    server = await metrics.serve({
      port: flags.metricsPort,
      ...(flags.metricsHost ? { host: flags.metricsHost } : {}),
    });
    sinks.push(metrics.sink);
    process.stderr.write(`rein: metrics at ${server.url}\n`);
  }
  if (flags.logLevel !== undefined && flags.logLevel !== "silent") {
    const logger = await createLogger({ level: flags.logLevel });
    const t = tracing;
    sinks.push(logSink(logger, t ? { traceOf: (runId) => t.sink.traceOf(runId) } : {}));
  }
  let stopped = false;
  return {
    sinks,
    summary() {
      const lines: string[] = [];
      if (tracing) {
        const s = tracing.stats();
        const where = terminalSafeText(tracing.destination);
        lines.push(
          s.failed === 0
            ? `traces: ${s.exported} spans exported by OTLP/HTTP to ${where}`
            : `traces: ${s.failed} of ${s.exported + s.failed} spans NOT delivered to ${where} (${terminalSafeText(s.lastError ?? "export failed")})`,
        );
      }
      if (server) lines.push(`metrics: served at ${server.url} during the run (stopped at exit)`);
      return lines;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // A collector that does not answer must not hold the terminal: what is not sent by then is reported.
      await tracing?.shutdown({ timeoutMs: 3_000 });
      await server?.close();
    },
  };
}

/** Prints the summary lines on stderr, after the run's own summary. */
export function printObservabilitySummary(o: Observability): void {
  for (const line of o.summary()) process.stderr.write(`rein: ${line}\n`);
}
