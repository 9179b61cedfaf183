import { HeuristicInjectionDetector } from "../security/injection-detector.js";
import { jsonlStrings, readStdin } from "./read-stdin.js";

export interface ScanOptions {
  readonly jsonl: boolean;
  readonly threshold: number | undefined;
  readonly maxBytes: number;
}

/**
 * `rein scan injection`: stdin → one JSON verdict `{ injection, score, severity, evidence, by }`;
 * `--jsonl` reads one JSON string per line and prints one verdict per line. Exits 1 when anything
 * was flagged (like grep finding a match), 0 when nothing was, 2 on bad input.
 */
export async function scanInjectionCommand(o: ScanOptions): Promise<number> {
  const detector = new HeuristicInjectionDetector({ threshold: o.threshold });
  const input = await readStdin(o.maxBytes, "rein scan injection");
  if (!o.jsonl) {
    const v = detector.detect(input);
    process.stdout.write(`${JSON.stringify(v)}\n`);
    return v.injection ? 1 : 0;
  }
  let flagged = false;
  let bad = false;
  const out: string[] = [];
  for (const line of jsonlStrings(input)) {
    if (!line.ok) {
      bad = true;
      out.push(JSON.stringify({ error: line.error }));
      continue;
    }
    const v = detector.detect(line.text);
    flagged ||= v.injection;
    out.push(JSON.stringify(v));
  }
  process.stdout.write(out.length > 0 ? `${out.join("\n")}\n` : "");
  return bad ? 2 : flagged ? 1 : 0;
}
