/**
 * What a tool call gives back to the model. Every failure is a value the model can read and react to:
 * `{ "error": { "type": …, "message": … } }`. A tool can never crash a session.
 */

/** Error types the pipeline itself produces. Tools may add their own (e.g. `outside_workspace`). */
export const TOOL_ERROR_TYPES = [
  "invalid_input",
  "unknown_tool",
  "tool_error",
  "timeout",
  "cancelled",
  "permission_denied",
  "blocked",
  "guard_denied",
  "outcome_unknown",
] as const;
export type PipelineToolErrorType = (typeof TOOL_ERROR_TYPES)[number];

/**
 * Thrown by a tool to return a specific, expected error type to the model
 * (e.g. `new ToolFailure("outside_workspace", "path ../x leaves the workspace")`).
 * Anything else a tool throws becomes `tool_error`.
 */
export class ToolFailure extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = "ToolFailure";
  }
}

/** The outcome of one tool call, before it becomes a `tool_result` block. */
export type ToolOutcome =
  | { readonly ok: true; readonly content: string; readonly truncated: boolean }
  | {
      readonly ok: false;
      readonly error: {
        readonly type: string;
        readonly message: string;
        readonly details?: Readonly<Record<string, unknown>>;
      };
    };

export function okOutcome(value: unknown, maxBytes: number): ToolOutcome {
  let content: string;
  if (typeof value === "string") content = value;
  else if (value === undefined) content = "";
  else {
    try {
      content = JSON.stringify(value) ?? String(value);
    } catch (err) {
      return errorOutcome(
        "tool_error",
        `Tool returned a value that cannot be serialised as JSON: ${(err as Error).message}`,
      );
    }
  }
  if (content.length * 3 > maxBytes && Buffer.byteLength(content) > maxBytes) {
    const cut = Buffer.from(content)
      .subarray(0, maxBytes)
      .toString("utf8")
      .replace(/\uFFFD$/, "");
    return { ok: true, content: `${cut}\n[output truncated by Rein at ${maxBytes} bytes]`, truncated: true };
  }
  return { ok: true, content, truncated: false };
}

/** Caps text Rein echoes to the model (error messages, schema issues): a tool or model cannot flood the context through it. */
export function capText(text: string, maxChars: number): string {
  return text.length > maxChars ? `${text.slice(0, maxChars)}… [truncated by Rein]` : text;
}

/** Largest serialised `details` an error result carries; past it they are replaced by a marked preview. */
export const MAX_ERROR_DETAILS_CHARS = 4_096;

export function errorOutcome(
  type: string,
  message: string,
  details?: Readonly<Record<string, unknown>>,
): ToolOutcome {
  const safe = details === undefined ? undefined : safeDetails(details);
  return safe
    ? { ok: false, error: { type, message, details: safe } }
    : { ok: false, error: { type, message } };
}

/**
 * Details as plain JSON data, whatever a tool put in them: BigInts become strings, cycles
 * `"[Circular]"`, functions and symbols are dropped, a throwing getter or `toJSON` is named, and the
 * whole is capped. So the result the model reads, the events and the audit can always serialise it.
 */
function safeDetails(details: unknown): Readonly<Record<string, unknown>> | undefined {
  let json: string | undefined;
  try {
    const seen = new WeakSet<object>();
    json = JSON.stringify(details, (_key, value: unknown) => {
      if (typeof value === "bigint") return value.toString();
      if (typeof value === "object" && value !== null) {
        if (seen.has(value)) return "[Circular]";
        seen.add(value);
      }
      return value;
    });
  } catch (err) {
    return { unserialisable: `details could not be serialised: ${(err as Error)?.message ?? String(err)}` };
  }
  if (json === undefined || json === "null") return undefined;
  if (json.length > MAX_ERROR_DETAILS_CHARS)
    return { truncated: true, preview: `${json.slice(0, MAX_ERROR_DETAILS_CHARS)}… [truncated by Rein]` };
  const parsed: unknown = JSON.parse(json);
  return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : { value: parsed };
}

/** What starts each guard note (a stall warning) the pipeline appends to the text the model reads. */
export const GUARD_NOTE_MARK = "[Rein guard note] ";

/**
 * The text the guards saw for a finished call: `content` (a `tool_call_finished` event's, what the
 * model read) without the guard notes appended after it (to a result's text, or inside an error's
 * message). Text that never had notes comes back as it is.
 */
export function contentBeforeNotes(content: string, ok: boolean): string {
  const cut = (text: string) => {
    const at = text.lastIndexOf(`\n\n${GUARD_NOTE_MARK}`);
    return at < 0 ? text : text.slice(0, at);
  };
  if (ok) return cut(content);
  if (!content.includes(GUARD_NOTE_MARK)) return content;
  try {
    const parsed = JSON.parse(content) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message !== "string") return content;
    parsed.error.message = cut(parsed.error.message);
    return JSON.stringify(parsed);
  } catch {
    return content;
  }
}

/** The text the model reads for an outcome. Never throws: error results hold only plain data. */
export function outcomeContent(outcome: ToolOutcome): string {
  if (outcome.ok) return outcome.content;
  try {
    return JSON.stringify({ error: outcome.error });
  } catch {
    return JSON.stringify({
      error: { type: String(outcome.error.type), message: String(outcome.error.message) },
    });
  }
}
