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

export function errorOutcome(
  type: string,
  message: string,
  details?: Readonly<Record<string, unknown>>,
): ToolOutcome {
  return details ? { ok: false, error: { type, message, details } } : { ok: false, error: { type, message } };
}

/** The text the model reads for an outcome. */
export function outcomeContent(outcome: ToolOutcome): string {
  return outcome.ok ? outcome.content : JSON.stringify({ error: outcome.error });
}
