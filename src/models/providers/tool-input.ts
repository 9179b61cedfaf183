/**
 * Tool-call arguments arrive as JSON text (streamed pieces, or OpenAI's `arguments` string). Text that
 * does not parse is kept as the raw string: it is not an object, so the tool's schema refuses it and
 * the model reads an `invalid_input` result naming the problem. It never crashes the run.
 */
export function parseToolInput(json: string | null | undefined): unknown {
  if (json === null || json === undefined || json.trim() === "") return {};
  try {
    return JSON.parse(json);
  } catch {
    return json;
  }
}

/** The reverse, for providers that take arguments as JSON text: a raw string goes back exactly as it came. */
export function toolInputText(input: unknown): string {
  return typeof input === "string" ? input : (JSON.stringify(input ?? {}) ?? "{}");
}
