/**
 * Canonical JSON: object keys sorted at every level, so `{a,b}` and `{b,a}` are the same call. Reads
 * own enumerable keys only (a `__proto__` key in the model's input is just a key). The approval's
 * arguments hash and the stall detector's call signature both use it, so they agree on "the same call".
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}
