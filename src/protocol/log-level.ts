import { ReinError } from "./errors.js";

/** Log levels, most verbose first (pino's names). */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A log level from user input (a flag, an environment variable); `REIN_TELEMETRY_INVALID` otherwise. */
export function parseLogLevel(value: string, where = "log level"): LogLevel {
  const v = value.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new ReinError(
    "REIN_TELEMETRY_INVALID",
    `${where} must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(value)}.`,
    { field: "logLevel" },
  );
}
