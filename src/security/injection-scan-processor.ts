import { isPromise } from "node:util/types";
import { errorMessage } from "../protocol/errors.js";
import type { ToolOutcome } from "../protocol/tool-result.js";
import type { InjectionDetector, InjectionVerdict } from "./injection-detector.js";
import type { ResultContext, ResultProcessor } from "./result-processor.js";

/**
 * The result processor that runs injection detectors on a tool's output (or error message) and
 * FLAGS what they find as a `content_flagged` event of kind `prompt_injection`, with the evidence.
 * It never rewrites the result: spotlighting already marks it as data, and the guards decide what a
 * tainted context may still do. A detector that throws flags the result (fail closed).
 *
 * @example
 * createHarness({ model, resultProcessors: [injectionScanProcessor([new HeuristicInjectionDetector()])] });
 */
export function injectionScanProcessor(detectors: readonly InjectionDetector[]): ResultProcessor {
  return {
    name: "injection-scan",
    async process(outcome: ToolOutcome, context: ResultContext): Promise<ToolOutcome> {
      const text = outcome.ok ? outcome.content : outcome.error.message;
      if (text.length === 0) return outcome;
      for (const detector of detectors) {
        let verdict: InjectionVerdict;
        try {
          const v = detector.detect(text);
          // Only a native Promise is awaited; a foreign thenable is not a verdict (and is never run).
          verdict = (isPromise(v) ? await v : v) as InjectionVerdict;
          if (typeof verdict?.injection !== "boolean" || !Array.isArray(verdict.evidence))
            throw new Error("the detector returned no verdict");
        } catch (err) {
          context.flag({
            kind: "prompt_injection",
            by: detector.name,
            severity: "medium",
            score: 1,
            evidence: [{ signal: "detector_failed", excerpt: errorMessage(err).slice(0, 120) }],
          });
          continue;
        }
        if (!verdict.injection) continue;
        context.flag({
          kind: "prompt_injection",
          by: verdict.by,
          severity: verdict.severity === "none" ? "low" : verdict.severity,
          score: verdict.score,
          evidence: verdict.evidence.map((e) => ({
            signal: e.decodedFrom ? `${e.signal} (in ${e.decodedFrom})` : e.signal,
            excerpt: e.excerpt,
          })),
        });
      }
      return outcome;
    },
  };
}
