import { type Command, InvalidArgumentError } from "commander";
import { type LogLevel, parseLogLevel } from "../protocol/log-level.js";

// Light on purpose: `rein run --help` registers these options; the sinks they ask for load in
// observability-options.ts, when the run starts.

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
