/**
 * From runs to an eval report: per case and for the suite, pass rate with its Wilson interval,
 * unbiased pass@k and pass^k (null when k > n), turns / cost / duration with their sample size,
 * failure reasons grouped, metrics by tag, each case's class, and the judge's scores with the
 * judge's variance apart from the agent's. The JSON keeps every case's `runs`, so anyone can
 * recompute every figure.
 */

import {
  type CaseClass,
  classify,
  type Fraction,
  meanOfFractions,
  type Proportion,
  passAtK,
  passHatK,
  type SampleStats,
  sampleStats,
  variance,
  wilson,
} from "./metrics.js";
import type { Comparison } from "./regression.js";
import type { RunRecord } from "./run-record.js";
import type { EvalResult } from "./runner.js";

export interface Counts {
  /** Runs scored: passed + failed + errors (an infrastructure error is never a pass, never dropped). */
  readonly n: number;
  readonly passed: number;
  readonly failed: number;
  readonly errors: number;
}

export interface JudgeSummary {
  /** Runs with a judge score. */
  readonly scored: number;
  /** Runs whose judge gave no well-formed verdict. */
  readonly failed: number;
  readonly mean: number | null;
  /** Variance of the per-run mean scores within each case, averaged over cases: the agent's noise. */
  readonly agentVariance: number | null;
  /** Variance of the samples within each run, averaged over runs: the judge's own noise. */
  readonly judgeVariance: number | null;
}

export interface CaseReport extends Counts {
  readonly id: string;
  readonly tags: readonly string[];
  readonly class: CaseClass;
  readonly passRate: Proportion;
  /** Keyed by k; null when k > n. */
  readonly passAtK: Readonly<Record<string, Fraction | null>>;
  readonly passHatK: Readonly<Record<string, Fraction | null>>;
  readonly turns: SampleStats;
  readonly costUsd: SampleStats;
  readonly durationMs: SampleStats;
  readonly failureReasons: readonly { readonly reason: string; readonly count: number }[];
  readonly judge?: JudgeSummary;
  /** Planned runs that never started. */
  readonly notRun: number;
  readonly runs: readonly RunRecord[];
}

export interface EvalReport extends Counts {
  readonly version: 1;
  readonly suite: { readonly name: string; readonly file: string; readonly description?: string };
  readonly startedAt: string;
  readonly durationMs: number;
  readonly costUsd: number;
  readonly outDir: string;
  readonly resumed: number;
  readonly notRun: number;
  readonly stopped: EvalResult["stopped"];
  readonly ks: readonly number[];
  readonly passRate: Proportion;
  /** Mean over cases of each case's pass@k; null when any case has fewer than k runs. */
  readonly passAtK: Readonly<Record<string, Fraction | null>>;
  readonly passHatK: Readonly<Record<string, Fraction | null>>;
  readonly classes: Readonly<Record<CaseClass, readonly string[]>>;
  readonly turns: SampleStats;
  readonly costUsdPerRun: SampleStats;
  readonly runDurationMs: SampleStats;
  readonly failureReasons: readonly {
    readonly reason: string;
    readonly count: number;
    readonly cases: readonly string[];
  }[];
  readonly byTag: Readonly<
    Record<string, Counts & { readonly cases: number; readonly passRate: Proportion }>
  >;
  readonly judge?: JudgeSummary;
  readonly cases: readonly CaseReport[];
  readonly comparison?: Comparison;
}

function countsOf(runs: readonly RunRecord[]): Counts {
  let passed = 0;
  let failed = 0;
  let errors = 0;
  for (const r of runs) {
    if (r.outcome === "passed") passed++;
    else if (r.outcome === "failed") failed++;
    else errors++;
  }
  return { n: runs.length, passed, failed, errors };
}

function kTable(n: number, c: number, ks: readonly number[], f: typeof passAtK) {
  return Object.fromEntries(ks.map((k) => [String(k), f(n, c, k) ?? null]));
}

function grouped(runs: readonly RunRecord[]) {
  const m = new Map<string, number>();
  for (const r of runs)
    if (r.outcome !== "passed") for (const reason of r.reasons) m.set(reason, (m.get(reason) ?? 0) + 1);
  return [...m]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
}

const nullable = (v: number | undefined) => (v === undefined ? null : v);

function judgeOf(groups: readonly (readonly RunRecord[])[]): JudgeSummary | undefined {
  const all = groups.flat().filter((r) => r.judge !== undefined);
  if (all.length === 0) return undefined;
  const scored = all.filter((r) => r.judge?.mean !== undefined);
  const means = scored.map((r) => r.judge!.mean!);
  const perCase = groups
    .map((g) => g.filter((r) => r.judge?.mean !== undefined).map((r) => r.judge!.mean!))
    .filter((g) => g.length > 0)
    .map((g) => variance(g)!);
  const within = scored.map((r) => r.judge!.variance ?? 0);
  const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);
  return {
    scored: scored.length,
    failed: all.length - scored.length,
    mean: nullable(avg(means)),
    agentVariance: nullable(avg(perCase)),
    judgeVariance: nullable(avg(within)),
  };
}

/**
 * The report of an eval's runs.
 *
 * @example
 * const r = report(await runEval(suite), { ks: [1, 3] });
 * r.cases[0].passAtK["3"]; // { num, den, value } or null when the case ran fewer than 3 times
 */
export function report(result: EvalResult, options: { ks?: readonly number[] } = {}): EvalReport {
  const ks = options.ks ?? [1, 2, 5];
  const cases: CaseReport[] = result.suite.cases.map((c) => {
    const runs = result.records.filter((r) => r.caseId === c.id);
    const counts = countsOf(runs);
    const judge = judgeOf([runs]);
    return {
      id: c.id,
      tags: c.tags ?? [],
      ...counts,
      // A case whose every run hit an infrastructure error says nothing about the agent.
      class: counts.n > 0 && counts.errors === counts.n ? "no_runs" : classify(counts.passed, counts.n),
      passRate: wilson(counts.passed, counts.n),
      passAtK: kTable(counts.n, counts.passed, ks, passAtK),
      passHatK: kTable(counts.n, counts.passed, ks, passHatK),
      turns: sampleStats(runs.filter((r) => r.outcome !== "error").map((r) => r.turns)),
      costUsd: sampleStats(runs.map((r) => r.costUsd)),
      durationMs: sampleStats(runs.map((r) => r.durationMs)),
      failureReasons: grouped(runs),
      ...(judge ? { judge } : {}),
      notRun: result.notRun.filter((x) => x.caseId === c.id).length,
      runs,
    };
  });
  const counts = countsOf(result.records);
  const suiteK = (key: "passAtK" | "passHatK") =>
    Object.fromEntries(
      ks.map((k) => [String(k), meanOfFractions(cases.map((c) => c[key][String(k)] ?? undefined)) ?? null]),
    );
  const classes: Record<CaseClass, string[]> = { always_pass: [], flaky: [], always_fail: [], no_runs: [] };
  for (const c of cases) classes[c.class].push(c.id);
  const reasons = new Map<string, { count: number; cases: Set<string> }>();
  for (const c of cases)
    for (const r of c.runs)
      if (r.outcome !== "passed")
        for (const reason of r.reasons) {
          const g = reasons.get(reason) ?? { count: 0, cases: new Set<string>() };
          g.count++;
          g.cases.add(c.id);
          reasons.set(reason, g);
        }
  const tags = [...new Set(cases.flatMap((c) => c.tags))].sort();
  const byTag = Object.fromEntries(
    tags.map((tag) => {
      const tagged = cases.filter((c) => c.tags.includes(tag));
      const tc = countsOf(tagged.flatMap((c) => c.runs));
      return [tag, { cases: tagged.length, ...tc, passRate: wilson(tc.passed, tc.n) }];
    }),
  );
  const judge = judgeOf(cases.map((c) => c.runs));
  return {
    version: 1,
    suite: {
      name: result.suite.name,
      file: result.suite.file,
      ...(result.suite.description ? { description: result.suite.description } : {}),
    },
    startedAt: result.startedAt,
    durationMs: result.durationMs,
    costUsd: result.costUsd,
    outDir: result.outDir,
    resumed: result.resumed,
    notRun: result.notRun.length,
    stopped: result.stopped,
    ks,
    ...counts,
    passRate: wilson(counts.passed, counts.n),
    passAtK: suiteK("passAtK"),
    passHatK: suiteK("passHatK"),
    classes,
    turns: sampleStats(result.records.filter((r) => r.outcome !== "error").map((r) => r.turns)),
    costUsdPerRun: sampleStats(result.records.map((r) => r.costUsd)),
    runDurationMs: sampleStats(result.records.map((r) => r.durationMs)),
    failureReasons: [...reasons]
      .map(([reason, g]) => ({ reason, count: g.count, cases: [...g.cases] }))
      .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
    byTag,
    ...(judge ? { judge } : {}),
    cases,
  };
}
