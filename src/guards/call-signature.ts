/** A tool call as people read it in a diagnostic: `tool {canonical args}`, capped. */
export function describeCall(tool: string, canonicalArgs: string, max = 80): string {
  const text = `${tool} ${canonicalArgs}`;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
