import type { EventSink } from "../protocol/events.js";
import { createLogger, logSink } from "../telemetry/log-sink.js";
import type { MetricsServer } from "../telemetry/metrics.js";
import type { Tracing } from "../telemetry/tracing.js";
import type { ObservabilityFlags } from "./observability-flags.js";
import { terminalSafeText } from "./terminal-text.js";

export {
  addObservabilityOptions,
  type ObservabilityFlags,
  observabilityFlags,
} from "./observability-flags.js";

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
