/** `rein eval <suite>`: run a suite, print the table (or JSON), write reports, compare with a baseline. */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";

export interface EvalCommandOptions {
  readonly runs?: number;
  readonly concurrency?: number;
  readonly json?: boolean;
  readonly baseline?: string;
  readonly saveBaseline?: string;
  readonly report?: string;
  readonly junit?: string;
  readonly out?: string;
  readonly resume?: boolean;
  readonly model?: string;
  readonly maxCost?: number;
  readonly failOnThresholds?: boolean;
}

/**
 * Runs the eval and returns the exit code: 0, 1 when the comparison with `--baseline` says
 * regressed (or a threshold is breached, with `--fail-on-thresholds`), 3 when the eval is
 * incomplete (runs not run for the budget, or infrastructure errors).
 */
export async function evalCommand(suitePath: string, o: EvalCommandOptions): Promise<number> {
  // Loaded here, not at registration: `rein --help` loads no subsystem.
  const { loadSuite } = await import("../evals/load-suite.js");
  const { progressBar } = await import("../evals/progress.js");
  const { baselineOf, compare, fingerprintOf, loadBaseline } = await import("../evals/regression.js");
  const { report } = await import("../evals/report.js");
  const { htmlReport } = await import("../evals/report-html.js");
  const { formatReport, junitReport } = await import("../evals/report-text.js");
  const { runEval } = await import("../evals/runner.js");
  const { terminalSafeText } = await import("./terminal-text.js");
  const suite = await loadSuite(suitePath);
  const bar = o.json ? undefined : progressBar(process.stderr);
  const result = await runEval(suite, {
    ...(o.runs !== undefined ? { runs: o.runs } : {}),
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
    ...(o.out !== undefined ? { outDir: resolve(o.out) } : {}),
    ...(o.model !== undefined ? { model: o.model } : {}),
    ...(o.maxCost !== undefined ? { maxCostUsd: o.maxCost } : {}),
    resume: Boolean(o.resume),
    ...(bar ? { onProgress: bar.update } : {}),
  });
  bar?.end();
  let r = report(result);
  const fingerprint = fingerprintOf(
    r,
    o.model ? { ...suite.harness, model: o.model } : suite.harness,
    suite.harness.sandbox,
  );
  if (o.baseline) {
    const comparison = compare(r, loadBaseline(resolve(o.baseline)), fingerprint, {
      failOnThresholds: Boolean(o.failOnThresholds),
    });
    r = { ...r, comparison };
  }
  if (o.saveBaseline)
    writeFileSync(resolve(o.saveBaseline), `${JSON.stringify(baselineOf(r, fingerprint), null, 2)}\n`);
  if (o.report) writeFileSync(resolve(o.report), htmlReport(r));
  if (o.junit) writeFileSync(resolve(o.junit), junitReport(r));
  process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : terminalSafeText(formatReport(r)));
  if (r.comparison?.exitCode === 1) return 1;
  if (r.notRun > 0 || r.errors > 0) return 3;
  return 0;
}

function positiveInt(flag: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new InvalidArgumentError(`${flag} must be a positive integer, got "${value}".`);
    return n;
  };
}

function usd(value: string): number {
  const n = Number(value.replace(/^\$/, ""));
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(
      `--max-cost must be a positive amount of USD (e.g. 2.50), got "${value}".`,
    );
  return n;
}

export function registerEvalCommand(cli: Command): void {
  cli
    .command("eval")
    .description("run an eval suite: repeated runs, pass@k, reports, a regression check against a baseline")
    .argument("<suite>", "a suite file: .yaml, .json, or a .ts/.js module exporting defineSuite({...})")
    .option("--runs <n>", "runs per case (default: the suite's, else 5)", positiveInt("--runs"))
    .option("--concurrency <n>", "runs in flight at once (default 4)", positiveInt("--concurrency"))
    .option("--json", "print the JSON report (every case's runs included) instead of the table")
    .option("--baseline <file>", "compare with a baseline saved by --save-baseline; exit 1 if regressed")
    .option("--save-baseline <file>", "save this eval as a baseline")
    .option("--report <file>", "write a self-contained HTML report")
    .option("--junit <file>", "write JUnit XML")
    .option("--out <dir>", "the run directory for results and transcripts (default .rein/evals/<suite>)")
    .option("--resume", "keep the finished runs in the run directory and run only the rest")
    .option("--model <model>", "the agent's model for every case, overriding the suite")
    .option("--max-cost <usd>", "USD ceiling of the whole eval (overrides the suite's budget)", usd)
    .option(
      "--fail-on-thresholds",
      "exit 1 when a cost, turns or pass-rate threshold is breached, even if not significant",
    )
    .action(async (suite: string, o: EvalCommandOptions) => {
      process.exitCode = await evalCommand(suite, o);
    });
}
