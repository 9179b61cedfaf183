/**
 * The regression guard: a baseline (per-case results, metrics and a fingerprint of what produced
 * them) and a paired comparison of a new eval against it.
 *
 * Pairing is by case: a case whose pass rate moved is a discordant pair, and under "no change" it is
 * as likely to move up as down, so the count that moved down is Binomial(moved, ½). The exact
 * two-sided sign test on those counts is McNemar's exact test when each case runs once. The verdict
 * is `regressed` (or `improved`) only when that test is significant AND the pass rate moved by at
 * least the threshold (the seed's rule: a 5-point drop); anything else is `inconclusive`. Cost and
 * turn thresholds are reported beside it.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod/v4";
import { EvaluationError } from "../protocol/errors.js";
import { binomial } from "./metrics.js";
import type { EvalReport } from "./report.js";

const fingerprintSchema = z.object({
  gitSha: z.string().nullable(),
  model: z.array(z.string()),
  harness: z.unknown(),
  sandbox: z.string(),
  date: z.string(),
  suite: z.string(),
});
export type Fingerprint = z.infer<typeof fingerprintSchema>;

export const baselineSchema = z.object({
  kind: z.literal("rein-eval-baseline"),
  version: z.literal(1),
  fingerprint: fingerprintSchema,
  metrics: z.object({
    n: z.int(),
    passed: z.int(),
    passRate: z.number().nullable(),
    meanCostUsd: z.number().nullable(),
    meanTurns: z.number().nullable(),
  }),
  cases: z.array(
    z.object({
      id: z.string(),
      n: z.int(),
      passed: z.int(),
      runs: z.array(z.object({ passed: z.boolean(), outcome: z.string() })),
      meanCostUsd: z.number().nullable(),
      meanTurns: z.number().nullable(),
    }),
  ),
});
export type Baseline = z.infer<typeof baselineSchema>;

/** The git commit of the working directory (or of `dir`), or null outside a repository. */
export function gitSha(dir: string): string | null {
  try {
    return (
      execFileSync("git", ["rev-parse", "HEAD"], {
        cwd: dir,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim() || null
    );
  } catch {
    return null;
  }
}

/** What produced a report: commit, models, harness settings, sandbox, date. */
export function fingerprintOf(
  r: EvalReport,
  harness: unknown,
  sandbox: string | undefined,
  date = new Date(),
): Fingerprint {
  const models = [...new Set(r.cases.flatMap((c) => c.runs.map((x) => x.model)))].sort();
  return {
    // The code under test is usually the working directory's; a suite kept elsewhere falls back to it.
    gitSha: (r.suite.file === "<inline>" ? null : gitSha(dirname(r.suite.file))) ?? gitSha(process.cwd()),
    model: models,
    harness: JSON.parse(
      JSON.stringify(harness ?? {}, (_k, v: unknown) =>
        typeof v === "function"
          ? "<function>"
          : typeof v === "object" && v !== null && "generate" in v
            ? `<model ${(v as { id?: string }).id}>`
            : v,
      ),
    ),
    sandbox: sandbox ?? "none configured",
    date: date.toISOString(),
    suite: r.suite.name,
  };
}

/**
 * A baseline from a report: save it (`JSON.stringify`) after a known-good eval.
 *
 * @example
 * writeFileSync("base.json", JSON.stringify(baselineOf(r, fingerprintOf(r, suite.harness, suite.harness.sandbox)), null, 2));
 */
export function baselineOf(r: EvalReport, fingerprint: Fingerprint): Baseline {
  return {
    kind: "rein-eval-baseline",
    version: 1,
    fingerprint,
    metrics: {
      n: r.n,
      passed: r.passed,
      passRate: r.passRate.rate ?? null,
      meanCostUsd: r.costUsdPerRun.mean ?? null,
      meanTurns: r.turns.mean ?? null,
    },
    cases: r.cases.map((c) => ({
      id: c.id,
      n: c.n,
      passed: c.passed,
      runs: c.runs.map((x) => ({ passed: x.passed, outcome: x.outcome })),
      meanCostUsd: c.costUsd.mean ?? null,
      meanTurns: c.turns.mean ?? null,
    })),
  };
}

/** Reads a baseline file; `REIN_EVAL_BASELINE_INVALID` names what is wrong. */
export function loadBaseline(file: string): Baseline {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new EvaluationError(
      "REIN_EVAL_BASELINE_INVALID",
      `${file}: cannot read the baseline: ${(err as Error).message}`,
      { file },
    );
  }
  const r = baselineSchema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const field = i.path.map(String).join(".") || "(root)";
    throw new EvaluationError(
      "REIN_EVAL_BASELINE_INVALID",
      `${file}: not a rein eval baseline: field "${field}": ${i.message}`,
      { file, field },
    );
  }
  return r.data;
}

/** Exact two-sided sign test: P(a split at least as uneven as `down` vs `up`) under p = ½. */
export function signTestP(down: number, up: number): number {
  const m = down + up;
  if (m === 0) return 1;
  const k = Math.min(down, up);
  let tail = 0n;
  for (let i = 0; i <= k; i++) tail += binomial(m, i);
  const p = Number((2n * tail * 1_000_000_000_000n) / (1n << BigInt(m))) / 1e12;
  return Math.min(1, p);
}

export interface Thresholds {
  /** Smallest pass-rate change (absolute, 0..1) that counts; default 0.05. */
  readonly passRateDrop: number;
  /** Relative increase of mean cost per run that breaches; default 0.2. */
  readonly costIncrease: number;
  /** Relative increase of mean turns per run that breaches; default 0.2. */
  readonly turnsIncrease: number;
  /** Significance level of the paired test; default 0.05. */
  readonly alpha: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = Object.freeze({
  passRateDrop: 0.05,
  costIncrease: 0.2,
  turnsIncrease: 0.2,
  alpha: 0.05,
});

export type Verdict = "improved" | "regressed" | "inconclusive";

export interface Comparison {
  readonly verdict: Verdict;
  readonly baseline: Fingerprint;
  readonly current: Fingerprint;
  /** Fingerprint fields that differ (besides the date). */
  readonly changed: readonly string[];
  readonly pairedTest: {
    readonly method: string;
    readonly pairedCases: number;
    readonly improved: readonly string[];
    readonly regressed: readonly string[];
    readonly pValue: number;
  };
  readonly passRate: {
    readonly baseline: number | null;
    readonly current: number | null;
    readonly delta: number | null;
  };
  readonly perCase: readonly {
    readonly id: string;
    readonly baseline: number | null;
    readonly current: number | null;
  }[];
  /** Cases in only one of the two. */
  readonly onlyInBaseline: readonly string[];
  readonly onlyInCurrent: readonly string[];
  readonly rules: readonly {
    readonly rule: string;
    readonly limit: number;
    readonly value: number | null;
    readonly breached: boolean;
  }[];
  /** 1 when the verdict is `regressed` (or a rule breached, with `failOnThresholds`), else 0. */
  readonly exitCode: 0 | 1;
}

const rate = (passed: number, n: number) => (n === 0 ? null : passed / n);

/**
 * Compares a report with a baseline, paired by case.
 *
 * @example
 * const c = compare(r, loadBaseline("base.json"), fingerprint);
 * if (c.verdict === "regressed") process.exitCode = c.exitCode;
 */
export function compare(
  r: EvalReport,
  baseline: Baseline,
  current: Fingerprint,
  options: Partial<Thresholds> & { failOnThresholds?: boolean } = {},
): Comparison {
  const t = { ...DEFAULT_THRESHOLDS, ...options };
  const base = new Map(baseline.cases.map((c) => [c.id, c]));
  const now = new Map(r.cases.map((c) => [c.id, c]));
  const improved: string[] = [];
  const regressed: string[] = [];
  const perCase: Comparison["perCase"][number][] = [];
  let pairedCases = 0;
  let bPassed = 0;
  let bN = 0;
  let cPassed = 0;
  let cN = 0;
  for (const c of r.cases) {
    const b = base.get(c.id);
    const br = b ? rate(b.passed, b.n) : null;
    const cr = rate(c.passed, c.n);
    perCase.push({ id: c.id, baseline: br, current: cr });
    if (!b || br === null || cr === null) continue;
    pairedCases++;
    bPassed += br;
    bN++;
    cPassed += cr;
    cN++;
    if (cr > br) improved.push(c.id);
    else if (cr < br) regressed.push(c.id);
  }
  const pValue = signTestP(regressed.length, improved.length);
  // Over the paired cases only, each case weighing the same: the quantity the test is about.
  const baseRate = bN ? bPassed / bN : null;
  const curRate = cN ? cPassed / cN : null;
  const delta = baseRate !== null && curRate !== null ? curRate - baseRate : null;
  let verdict: Verdict = "inconclusive";
  if (pValue < t.alpha && delta !== null) {
    if (regressed.length > improved.length && -delta >= t.passRateDrop) verdict = "regressed";
    else if (improved.length > regressed.length && delta >= t.passRateDrop) verdict = "improved";
  }
  const relative = (a: number | null | undefined, b: number | null | undefined) =>
    a === null || a === undefined || b === null || b === undefined
      ? null
      : a === 0
        ? b === 0
          ? 0
          : Number.POSITIVE_INFINITY
        : (b - a) / a;
  const costRise = relative(baseline.metrics.meanCostUsd, r.costUsdPerRun.mean);
  const turnsRise = relative(baseline.metrics.meanTurns, r.turns.mean);
  const rules = [
    {
      rule: "pass rate drop",
      limit: t.passRateDrop,
      value: delta === null ? null : -delta,
      breached: delta !== null && -delta >= t.passRateDrop,
    },
    {
      rule: "mean cost increase",
      limit: t.costIncrease,
      value: costRise,
      breached: costRise !== null && costRise > t.costIncrease,
    },
    {
      rule: "mean turns increase",
      limit: t.turnsIncrease,
      value: turnsRise,
      breached: turnsRise !== null && turnsRise > t.turnsIncrease,
    },
  ];
  const changed = (["gitSha", "model", "harness", "sandbox", "suite"] as const).filter(
    (k) => JSON.stringify(baseline.fingerprint[k]) !== JSON.stringify(current[k]),
  );
  const failing =
    verdict === "regressed" || (options.failOnThresholds === true && rules.some((x) => x.breached));
  return {
    verdict,
    baseline: baseline.fingerprint,
    current,
    changed,
    pairedTest: {
      method:
        "exact two-sided sign test over cases whose pass rate moved (McNemar's exact test when each case runs once)",
      pairedCases,
      improved,
      regressed,
      pValue,
    },
    passRate: { baseline: baseRate, current: curRate, delta },
    perCase,
    onlyInBaseline: baseline.cases.filter((c) => !now.has(c.id)).map((c) => c.id),
    onlyInCurrent: r.cases.filter((c) => !base.has(c.id)).map((c) => c.id),
    rules,
    exitCode: failing ? 1 : 0,
  };
}
