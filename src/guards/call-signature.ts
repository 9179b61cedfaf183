/**
 * Canonical JSON: object keys sorted at every level, so `{a,b}` and `{b,a}` are the same call.
 * Reads own enumerable keys only (a `__proto__` key in the model's input is just a key).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}

/** A tool call as people read it in a diagnostic: `tool {canonical args}`, capped. */
export function describeCall(tool: string, canonicalArgs: string, max = 80): string {
  const text = `${tool} ${canonicalArgs}`;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
