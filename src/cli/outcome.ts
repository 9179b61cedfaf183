import type { CommanderError } from "commander";
import { ReinError } from "../protocol/errors.js";
import { terminalSafeJson, terminalSafeText } from "./terminal-text.js";

/** How a command line ended, for the exit status. */
export interface Outcome {
  readonly exitCode: number;
}

/** Exit status of a usage or configuration error (sysexits' EX_USAGE is 64; Rein keeps 2, as most CLIs). */
export const EXIT_USAGE = 2;
/** Exit status of a bug in Rein (sysexits' EX_SOFTWARE). */
export const EXIT_INTERNAL = 70;

/**
 * A command line that did not parse: one line naming the problem and one hint, exit 2. With `--json`
 * the same as one JSON line on stdout (`{"type":"error","code":"REIN_USAGE",…}`), stderr empty.
 */
export function reportUsage(err: CommanderError, json: boolean, hint: string): Outcome {
  // Commander's messages start with "error: " and may add "(Did you mean --model?)" on a second line.
  const message = err.message
    .replace(/^error:\s*/, "")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .join(" ");
  write(json, { code: "REIN_USAGE", message, hint: `see \`${hint.replace(/\s+/g, " ")}\`` });
  return { exitCode: EXIT_USAGE };
}

/** A ReinError (exit 2: the input or the set-up is wrong) or anything else (exit 70: a bug). */
export function reportError(err: unknown, json: boolean, hint?: string): Outcome {
  if (err instanceof ReinError) {
    write(json, {
      code: err.code,
      message: err.message,
      ...(hint ? { hint: `see \`${hint.replace(/\s+/g, " ")}\`` } : {}),
      details: err.details,
    });
    return { exitCode: EXIT_USAGE };
  }
  const message = (err as Error)?.stack ?? String(err);
  write(json, { code: "REIN_INTERNAL", message: `internal error: ${message}` });
  return { exitCode: EXIT_INTERNAL };
}

function write(
  json: boolean,
  e: { code: string; message: string; hint?: string; details?: Readonly<Record<string, unknown>> },
): void {
  const exitCode = e.code === "REIN_INTERNAL" ? EXIT_INTERNAL : EXIT_USAGE;
  if (json) {
    const line = JSON.stringify({ type: "error", ...e, exitCode });
    process.stdout.write(`${terminalSafeJson(line)}\n`);
    return;
  }
  // Messages quote user and model input (script fields, tool names): print them inert.
  const lines = [`rein: ${terminalSafeText(e.message)}`];
  if (e.code !== "REIN_USAGE" && e.code !== "REIN_INTERNAL") lines.push(`rein: error code ${e.code}`);
  if (e.hint) lines.push(`rein: ${e.hint}`);
  process.stderr.write(`${lines.join("\n")}\n`);
}
