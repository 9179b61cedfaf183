import { knownSecretsFromEnv } from "../security/known-values.js";
import type { RegexEngineName } from "../security/linear-regex.js";
import { SecretRedactor } from "../security/redactor.js";
import { jsonlStrings, readStdin } from "./read-stdin.js";

export interface RedactOptions {
  readonly json: boolean;
  readonly jsonl: boolean;
  readonly env: boolean;
  readonly engine: RegexEngineName | "auto";
  readonly maxBytes: number;
}

/**
 * `rein redact`: stdin → stdout with secrets replaced by placeholders (stable for the whole input).
 * `--json` prints `{ text, findings, engine }`; `--jsonl` reads one JSON string per line and prints
 * one `{ text, findings }` per line (`{ error }` for a line that is not a JSON string, exit 1).
 */
export async function redactCommand(o: RedactOptions): Promise<number> {
  const redactor = new SecretRedactor({
    engine: o.engine,
    knownSecrets: o.env ? knownSecretsFromEnv(process.env) : [],
  });
  const input = await readStdin(o.maxBytes, "rein redact");
  if (o.jsonl) {
    let bad = false;
    const out: string[] = [];
    for (const line of jsonlStrings(input)) {
      if (!line.ok) {
        bad = true;
        out.push(JSON.stringify({ error: line.error }));
        continue;
      }
      const r = redactor.redact(line.text);
      out.push(JSON.stringify({ text: r.text, findings: r.findings }));
    }
    process.stdout.write(out.length > 0 ? `${out.join("\n")}\n` : "");
    return bad ? 1 : 0;
  }
  const r = redactor.redact(input);
  if (o.json)
    process.stdout.write(
      `${JSON.stringify({ text: r.text, findings: r.findings, engine: redactor.engine })}\n`,
    );
  else process.stdout.write(r.text);
  return 0;
}
