/** pino's numeric levels and how a terminal shows them. */
const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: "TRACE", color: "\x1b[90m" },
  20: { name: "DEBUG", color: "\x1b[36m" },
  30: { name: "INFO ", color: "\x1b[32m" },
  40: { name: "WARN ", color: "\x1b[33m" },
  50: { name: "ERROR", color: "\x1b[31m" },
  60: { name: "FATAL", color: "\x1b[41m" },
};
const RESET = "\x1b[0m";
const DIM = "\x1b[2m";
const HIDDEN = new Set(["level", "time", "msg", "pid", "hostname", "v"]);

/** Strips control characters, so a value from a model or a tool cannot drive the terminal. */
function inert(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "\uFFFD");
}

function show(value: unknown): string {
  if (typeof value === "string") return /^[\w.:/@-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * One pino JSON line as a terminal line: `12:03:04.512 INFO  run started sessionId=… task="…"`.
 * Colour only when `color` (the caller honours NO_COLOR); a line that is not JSON passes through inert.
 */
export function prettyLine(line: string, color: boolean): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${inert(line.trimEnd())}\n`;
  }
  const level = LEVELS[o.level as number] ?? { name: String(o.level), color: "" };
  const time = typeof o.time === "number" ? new Date(o.time).toISOString().slice(11, 23) : "";
  const fields = Object.entries(o)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${show(v)}`)
    .join(" ");
  const msg = inert(String(o.msg ?? ""));
  const rest = inert(fields);
  return color
    ? `${DIM}${time}${RESET} ${level.color}${level.name}${RESET} ${msg} ${DIM}${rest}${RESET}\n`
    : `${time} ${level.name} ${msg} ${rest}\n`;
}
