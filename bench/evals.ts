/**
 * evals (issue 26): the eval runner's own overhead per run — a fresh workspace with the fixture
 * copied, a harness per run, the transcript kept and written, the checks, the run record written —
 * against running the same sessions (same scripted agent, same task) in a plain loop on one harness
 * and one workspace, alternating, in one process. Concurrency 1, so both are sequential.
 * Flags: `--quick`, `--runs <n>` (default 60; 15 with `--quick`), `--reps <n>` (default 5; 2 quick).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as evals from "../dist/evals.js";
import * as rein from "../dist/index.js";
import type { Benchmark, BenchOptions, BenchOutput } from "./lib/bench.ts";

const SUITE = resolve(import.meta.dirname, "../examples/evals/passing.suite.yaml");
const CASE = "summarise-notes";

async function plainLoop(runs: number): Promise<number> {
  const suite = await evals.loadSuite(SUITE);
  const c = suite.cases.find((x) => x.id === CASE)!;
  const workspace = mkdtempSync(join(tmpdir(), "rein-bench-evals-"));
  rmSync(workspace, { recursive: true });
  const { cpSync } = await import("node:fs");
  cpSync(c.fixture!, workspace, { recursive: true });
  const harness = rein.createHarness({
    model: suite.harness.model as string,
    workspace,
    trust: "autonomous",
    audit: false,
    limits: { maxTurns: suite.maxTurns },
  });
  const start = performance.now();
  for (let i = 0; i < runs; i++) {
    const session = harness.session();
    const r = await session.run(c.task);
    await session.close();
    if (r.stopReason.type !== "completed") throw new Error(`plain loop: ${r.stopReason.type}`);
  }
  const ms = performance.now() - start;
  rmSync(workspace, { recursive: true, force: true });
  return ms;
}

async function runner(runs: number): Promise<number> {
  const loaded = await evals.loadSuite(SUITE);
  const suite = { ...loaded, cases: loaded.cases.filter((x) => x.id === CASE) };
  const out = mkdtempSync(join(tmpdir(), "rein-bench-evals-out-"));
  const start = performance.now();
  const result = await evals.runEval(suite, { runs, concurrency: 1, outDir: out });
  const ms = performance.now() - start;
  if (result.records.some((r) => !r.passed)) throw new Error("runner: a run failed");
  rmSync(out, { recursive: true, force: true });
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const bench: Benchmark = {
  name: "evals",
  description: "eval runner overhead per run vs the same sessions in a plain loop",
  async run({ quick, flags, log }: BenchOptions): Promise<BenchOutput> {
    const runs = Number(flags.runs ?? (quick ? 15 : 60));
    const reps = Number(flags.reps ?? (quick ? 2 : 5));
    await plainLoop(3);
    await runner(3);
    const loop: number[] = [];
    const evals: number[] = [];
    for (let i = 0; i < reps; i++) {
      loop.push((await plainLoop(runs)) / runs);
      evals.push((await runner(runs)) / runs);
      log(
        `rep ${i + 1}/${reps}: plain ${loop.at(-1)!.toFixed(2)} ms/run, runner ${evals.at(-1)!.toFixed(2)} ms/run`,
      );
    }
    const l = median(loop);
    const e = median(evals);
    return {
      tables: [
        {
          title: `eval runner vs plain loop (${runs} runs of "${CASE}", concurrency 1, median of ${reps})`,
          header: ["", "ms per run", "ratio"],
          rows: [
            ["plain loop (one harness, one workspace)", l.toFixed(2), "1.00×"],
            ["runEval (fresh workspace + harness, checks, records)", e.toFixed(2), `${(e / l).toFixed(2)}×`],
            ["runner overhead per run", (e - l).toFixed(2), ""],
          ],
        },
      ],
      json: { runs, reps, plainMsPerRun: loop, runnerMsPerRun: evals, overheadMsPerRun: e - l, ratio: e / l },
    };
  },
};

export default bench;
