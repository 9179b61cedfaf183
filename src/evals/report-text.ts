/** The terminal table of an eval report, and its JUnit XML. Plain text; the CLI escapes what it prints. */
import type { Fraction } from "./metrics.js";
import type { EvalReport } from "./report.js";

const pct = (v: number | undefined | null) =>
  v === undefined || v === null ? "–" : `${(v * 100).toFixed(0)}%`;
const frac = (f: Fraction | null | undefined) => (f ? `${f.num}/${f.den}` : "n/a");
const num = (v: number | undefined | null, digits = 1) =>
  v === undefined || v === null ? "–" : v.toFixed(digits);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/**
 * The report as a terminal table: one row per case, the suite's totals, failure reasons, tags, the
 * judge and the comparison with a baseline.
 */
export function formatReport(r: EvalReport): string {
  const ks = r.ks.map(String);
  const header = [
    "case",
    "pass",
    "rate",
    "95% CI",
    ...ks.map((k) => `pass@${k}`),
    ...ks.map((k) => `pass^${k}`),
    "class",
    "turns p50",
    "cost mean",
    "err",
  ];
  const rows = r.cases.map((c) => [
    c.id,
    `${c.passed}/${c.n}`,
    pct(c.passRate.rate),
    `${pct(c.passRate.low)}–${pct(c.passRate.high)}`,
    ...ks.map((k) => frac(c.passAtK[k])),
    ...ks.map((k) => frac(c.passHatK[k])),
    c.class.replace("_", "-"),
    num(c.turns.median),
    `$${num(c.costUsd.mean, 4)}`,
    String(c.errors),
  ]);
  const out = [
    `eval ${r.suite.name}: ${r.passed}/${r.n} runs passed (${pct(r.passRate.rate)}, 95% CI ${pct(r.passRate.low)}–${pct(r.passRate.high)}), ${r.failed} failed, ${r.errors} infrastructure errors`,
    "",
    table(header, rows),
  ];
  out.push(
    "",
    `suite: ${ks.map((k) => `pass@${k} ${frac(r.passAtK[k])}`).join(", ")}; ${ks.map((k) => `pass^${k} ${frac(r.passHatK[k])}`).join(", ")} (n/a: a case ran fewer than k times)`,
    `turns: mean ${num(r.turns.mean)}, median ${num(r.turns.median)}, p95 ${num(r.turns.p95)} (n=${r.turns.n}); cost per run: mean $${num(r.costUsdPerRun.mean, 4)}, p95 $${num(r.costUsdPerRun.p95, 4)} (n=${r.costUsdPerRun.n}); duration: median ${num(r.runDurationMs.median, 0)} ms, p95 ${num(r.runDurationMs.p95, 0)} ms (n=${r.runDurationMs.n})`,
    `classes: ${r.classes.always_pass.length} always-pass, ${r.classes.flaky.length} flaky${r.classes.flaky.length ? ` (${r.classes.flaky.join(", ")})` : ""}, ${r.classes.always_fail.length} always-fail${r.classes.no_runs.length ? `, ${r.classes.no_runs.length} without a completed run` : ""}`,
  );
  if (r.failureReasons.length) {
    out.push("", "failure reasons:");
    for (const f of r.failureReasons) out.push(`  ${f.count}× ${f.reason}  (${f.cases.join(", ")})`);
  }
  const tags = Object.entries(r.byTag);
  if (tags.length)
    out.push(
      "",
      `by tag: ${tags.map(([t, m]) => `${t} ${m.passed}/${m.n} (${pct(m.passRate.rate)})`).join(", ")}`,
    );
  if (r.judge)
    out.push(
      "",
      `judge: mean ${num(r.judge.mean, 2)}/10 over ${r.judge.scored} runs (${r.judge.failed} without a verdict); judge variance ${num(r.judge.judgeVariance, 3)}, agent variance ${num(r.judge.agentVariance, 3)}`,
    );
  if (r.stopped)
    out.push(
      "",
      `stopped: the eval budget of $${r.stopped.limitUsd} is spent ($${num(r.stopped.spentUsd, 4)}); ${r.notRun} planned runs did not start`,
    );
  if (r.resumed) out.push(`resumed: ${r.resumed} finished runs reused from ${r.outDir}`);
  const c = r.comparison;
  if (c) {
    out.push(
      "",
      `baseline: ${c.verdict.toUpperCase()} — pass rate ${pct(c.passRate.baseline)} → ${pct(c.passRate.current)} over ${c.pairedTest.pairedCases} paired cases; ${c.pairedTest.regressed.length} worse${c.pairedTest.regressed.length ? ` (${c.pairedTest.regressed.join(", ")})` : ""}, ${c.pairedTest.improved.length} better; sign test p = ${c.pairedTest.pValue.toPrecision(3)}`,
    );
    if (c.changed.length) out.push(`  changed since the baseline: ${c.changed.join(", ")}`);
    for (const rule of c.rules)
      if (rule.breached)
        out.push(`  threshold breached: ${rule.rule} ${pct(rule.value)} (limit ${pct(rule.limit)})`);
  }
  out.push("", `runs and transcripts: ${r.outDir}`);
  return `${out.join("\n")}\n`;
}

function xml(text: string): string {
  return (
    text
      // Characters XML 1.0 cannot hold at all.
      .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "\uFFFD")
      .replaceAll("&", "&amp;")
      .replaceAll("<", "&lt;")
      .replaceAll(">", "&gt;")
      .replaceAll('"', "&quot;")
  );
}

/** JUnit XML: one testsuite, one testcase per run (`<case> #<i>`); a failed run is a `<failure>`, an infrastructure error an `<error>`. */
export function junitReport(r: EvalReport): string {
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="rein eval" tests="${r.n}" failures="${r.failed}" errors="${r.errors}" skipped="${r.notRun}">`,
    `  <testsuite name="${xml(r.suite.name)}" tests="${r.n + r.notRun}" failures="${r.failed}" errors="${r.errors}" skipped="${r.notRun}" time="${(r.durationMs / 1000).toFixed(3)}" timestamp="${xml(r.startedAt)}">`,
  ];
  for (const c of r.cases) {
    for (const run of c.runs) {
      const open = `    <testcase classname="${xml(`${r.suite.name}.${c.id}`)}" name="${xml(`${c.id} #${run.runIndex + 1}`)}" time="${(run.durationMs / 1000).toFixed(3)}"`;
      if (run.outcome === "passed") out.push(`${open}/>`);
      else {
        const tag = run.outcome === "error" ? "error" : "failure";
        const message = run.reasons.join("; ");
        out.push(
          `${open}>`,
          `      <${tag} message="${xml(message)}" type="${xml(run.error?.code ?? run.stopReason)}">${xml([...run.reasons, run.error?.message ?? ""].filter(Boolean).join("\n"))}</${tag}>`,
          "    </testcase>",
        );
      }
    }
    for (let i = 0; i < c.notRun; i++)
      out.push(
        `    <testcase classname="${xml(`${r.suite.name}.${c.id}`)}" name="${xml(`${c.id} (not run)`)}"><skipped message="the eval budget was spent"/></testcase>`,
      );
  }
  out.push("  </testsuite>", "</testsuites>", "");
  return out.join("\n");
}
