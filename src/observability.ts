/**
 * `rein/observability`: OpenTelemetry traces, Prometheus metrics and pino logs, as event sinks.
 * A subpath of its own: its types reach Node's `http` and pino, which `rein`'s own types never do.
 */

export {
  type CreateLoggerOptions,
  createLogger,
  LOG_LEVELS,
  type LogLevel,
  type LogSinkOptions,
  logSink,
  type ReinLogger,
} from "./telemetry/log-sink.js";
export {
  createMetrics,
  type MetricsOptions,
  type MetricsServer,
  metricsHandler,
  type ReinMetrics,
} from "./telemetry/metrics.js";
export {
  createTracing,
  otlpTracesUrl,
  type Tracing,
  type TracingOptions,
  tracingRequestedByEnv,
} from "./telemetry/tracing.js";
