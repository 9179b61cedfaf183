/**
 * `rein/evals`: the evaluation framework (suites, runner, metrics, judge, regression guard, reports).
 * A subpath of its own, so an app that imports `rein` does not load it or its types.
 */

export { type CheckOutcome, callsOf, runChecks } from "./evals/checks.js";
export {
  type JudgeEvidence,
  type JudgeOptions,
  judgePrompt,
  judgeRun,
  parseVerdict,
  RUBRIC,
  type Verdict as JudgeVerdict,
} from "./evals/judge.js";
export { type LoadedSuite, loadSuite, parseSuiteText, validateSuite } from "./evals/load-suite.js";
export {
  binomial,
  type CaseClass,
  classify,
  type Fraction,
  meanOfFractions,
  type Proportion,
  passAtK,
  passHatK,
  type SampleStats,
  sampleStats,
  wilson,
} from "./evals/metrics.js";
export { progressBar } from "./evals/progress.js";
export {
  type Baseline,
  baselineOf,
  type Comparison,
  compare,
  DEFAULT_THRESHOLDS,
  type Fingerprint,
  fingerprintOf,
  loadBaseline,
  signTestP,
  type Thresholds,
} from "./evals/regression.js";
export { type CaseReport, type EvalReport, report } from "./evals/report.js";
export { htmlReport } from "./evals/report-html.js";
export { formatReport, junitReport } from "./evals/report-text.js";
export type { JudgeRun, RunRecord } from "./evals/run-record.js";
export { type EvalProgress, type EvalResult, type RunEvalOptions, runEval, runSeed } from "./evals/runner.js";
export {
  type CheckContext,
  type CustomCheck,
  defineSuite,
  type ModelFactory,
  type RunIdentity,
  type SuiteInput,
} from "./evals/suite-schema.js";
