import { SecurityError } from "../protocol/errors.js";

/** All of stdin as UTF-8, refusing more than `maxBytes` (REIN_INPUT_TOO_LARGE) rather than reading without end. */
export async function readStdin(maxBytes: number, command: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > maxBytes) {
      throw new SecurityError(
        "REIN_INPUT_TOO_LARGE",
        `${command}: stdin is larger than --max-bytes ${maxBytes}; split it, or use --jsonl with one record per line.`,
        { maxBytes },
      );
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Each line of a `--jsonl` input as the string it encodes, or the reason it is not one. */
export function jsonlStrings(input: string): ({ ok: true; text: string } | { ok: false; error: string })[] {
  const lines = input.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line, i) => {
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v === "string") return { ok: true, text: v };
      return {
        ok: false,
        error: `line ${i + 1}: expected a JSON string, got ${v === null ? "null" : typeof v}`,
      };
    } catch (err) {
      return { ok: false, error: `line ${i + 1}: not JSON (${(err as Error).message})` };
    }
  });
}
