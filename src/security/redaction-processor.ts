import type { ToolOutcome } from "../protocol/tool-result.js";
import type { SecretRedactor } from "./redactor.js";
import type { ResultContext, ResultProcessor } from "./result-processor.js";

/**
 * The result processor that redacts secrets from a tool's output (and from an error's message and
 * details) before the model reads it; what was found is flagged as a `content_flagged` event of
 * kind `secret`, with kinds and placeholders only.
 *
 * @example
 * createHarness({ model, resultProcessors: [redactionProcessor(new SecretRedactor())] });
 */
export function redactionProcessor(redactor: SecretRedactor): ResultProcessor {
  return {
    name: "redaction",
    process(outcome: ToolOutcome, context: ResultContext): ToolOutcome {
      if (outcome.ok) {
        const r = redactor.redact(outcome.content);
        if (r.findings.length === 0) return outcome;
        report(context, r.findings);
        return { ok: true, content: r.text, truncated: outcome.truncated };
      }
      const message = redactor.redact(outcome.error.message);
      const details =
        outcome.error.details === undefined ? undefined : redactor.redactValue(outcome.error.details);
      if (message.findings.length === 0 && details === outcome.error.details) return outcome;
      report(context, message.findings);
      return {
        ok: false,
        error: { ...outcome.error, message: message.text, ...(details !== undefined ? { details } : {}) },
      };
    },
  };
}

function report(context: ResultContext, findings: readonly { kind: string; placeholder: string }[]): void {
  const seen = new Set<string>();
  const evidence: { signal: string; excerpt: string }[] = [];
  for (const f of findings) {
    if (seen.has(f.placeholder)) continue;
    seen.add(f.placeholder);
    evidence.push({ signal: f.kind, excerpt: f.placeholder });
  }
  context.flag({ kind: "secret", by: "redaction", severity: "high", score: 1, evidence });
}
