import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { type Baseline, type EvalReport, progressBar } from "../../src/evals.js";
import { tempDir } from "../helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/rein.js");

function rein(args: string[], cwd = ROOT) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("rein eval (the real CLI on the examples, scripted models, no key)", () => {
  it("examples/evals/passing.suite.yaml passes: table, JSON with runs, JUnit and HTML files, exit 0", () => {
    const out = tempDir("rein-cli-eval-");
    const r = rein([
      "eval",
      "examples/evals/passing.suite.yaml",
      "--out",
      out,
      "--junit",
      join(out, "j.xml"),
      "--report",
      join(out, "r.html"),
    ]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^eval passing: 9\/9 runs passed \(100%, 95% CI 70%–100%\), 0 failed, 0 infrastructure errors/,
    );
    expect(r.out).toContain("classes: 3 always-pass, 0 flaky, 0 always-fail");
    expect(readFileSync(join(out, "j.xml"), "utf8")).toContain(
      '<testsuite name="passing" tests="9" failures="0" errors="0"',
    );
    expect(readFileSync(join(out, "r.html"), "utf8")).toMatch(/^<!doctype html>/);
    const json = rein(["eval", "examples/evals/passing.suite.yaml", "--out", out, "--json", "--runs", "2"]);
    const report = JSON.parse(json.out) as EvalReport;
    expect(report.cases.map((c) => [c.id, c.runs.map((x) => x.passed)])).toEqual([
      ["summarise-notes", [true, true]],
      ["count-items", [true, true]],
      ["refuse-delete", [true, true]],
    ]);
    expect(report.costUsd).toBeGreaterThan(0);
  });

  it("examples/evals/flaky.suite.ts is flaky, the same way every time (seeded per run)", () => {
    const runs = [1, 2].map(() => {
      const r = rein(["eval", "examples/evals/flaky.suite.ts", "--out", tempDir("rein-cli-eval-"), "--json"]);
      expect(r.code).toBe(0);
      return JSON.parse(r.out) as EvalReport;
    });
    const [a, b] = runs as [EvalReport, EvalReport];
    expect(a.classes.flaky).toEqual(["answer", "answer-again"]);
    expect([a.passed, a.n]).toEqual([16, 20]);
    expect(a.cases.map((c) => c.runs.map((x) => x.passed))).toEqual(
      b.cases.map((c) => c.runs.map((x) => x.passed)),
    );
    expect(a.failureReasons.map((f) => [f.count, f.reason])).toEqual([
      [4, "file answer.txt: content differs"],
      [1, 'final answer: lacks "42"'],
    ]);
  });

  it("examples/evals/regresses.suite.yaml regresses against its saved baseline: exit 1; the baseline is what --save-baseline writes", () => {
    const out = tempDir("rein-cli-eval-");
    const r = rein([
      "eval",
      "examples/evals/regresses.suite.yaml",
      "--out",
      out,
      "--baseline",
      "examples/evals/regresses.baseline.json",
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("baseline: REGRESSED — pass rate 100% → 14% over 7 paired cases; 6 worse");
    expect(r.out).toContain("sign test p = 0.0313");
    expect(r.out).toContain("changed since the baseline: ");
    const saved = join(out, "v1.json");
    const again = rein([
      "eval",
      "examples/evals/regresses.suite.yaml",
      "--out",
      out,
      "--model",
      "scripted:examples/evals/regression/agent-v1.yaml",
      "--save-baseline",
      saved,
    ]);
    expect(again.code).toBe(0);
    const committed = JSON.parse(
      readFileSync(join(ROOT, "examples/evals/regresses.baseline.json"), "utf8"),
    ) as Baseline;
    const fresh = JSON.parse(readFileSync(saved, "utf8")) as Baseline;
    expect(fresh.cases).toEqual(committed.cases);
    expect(fresh.fingerprint.model).toEqual(committed.fingerprint.model);
    // Against itself, nothing moved.
    const same = rein([
      "eval",
      "examples/evals/regresses.suite.yaml",
      "--out",
      out,
      "--model",
      "scripted:examples/evals/regression/agent-v1.yaml",
      "--baseline",
      saved,
    ]);
    expect(same.code).toBe(0);
    expect(same.out).toContain(
      "baseline: INCONCLUSIVE — pass rate 100% → 100% over 7 paired cases; 0 worse, 0 better; sign test p = 1.00",
    );
  });

  it("--resume reuses finished runs; --max-cost stops the eval cleanly with exit 3", () => {
    const out = tempDir("rein-cli-eval-");
    expect(rein(["eval", "examples/evals/passing.suite.yaml", "--out", out]).code).toBe(0);
    const resumed = rein(["eval", "examples/evals/passing.suite.yaml", "--out", out, "--resume"]);
    expect(resumed.out).toContain(`resumed: 9 finished runs reused from ${out}`);
    const capped = rein([
      "eval",
      "examples/evals/passing.suite.yaml",
      "--out",
      tempDir("rein-cli-eval-"),
      "--max-cost",
      "0.02",
      "--concurrency",
      "1",
    ]);
    expect(capped.code).toBe(3);
    expect(capped.out).toMatch(
      /stopped: the eval budget of \$0\.02 is spent \(\$0\.0\d+\); \d+ planned runs did not start/,
    );
  });

  it("a bad suite exits 2 with the file, line, case and field", () => {
    const dir = tempDir("rein-cli-eval-");
    writeFileSync(
      join(dir, "bad.yaml"),
      "name: bad\nharness: { model: scripted:demo }\ncases:\n  - id: a\n    taks: typo\n",
    );
    const r = rein(["eval", join(dir, "bad.yaml")]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${join(dir, "bad.yaml")}:4: case "a", field "task": missing; expected string`);
    expect(r.err).toContain(`${join(dir, "bad.yaml")}:5: case "a", field "taks": unknown field`);
    expect(r.err).toContain("rein: error code REIN_EVAL_SUITE_INVALID");
    expect(rein(["eval", "x.yaml", "--runs", "0"]).err).toContain("--runs must be a positive integer");
  });

  it("the progress bar draws only on a terminal: a pipe gets none, a pseudo-terminal gets it", () => {
    const piped = rein(["eval", "examples/evals/passing.suite.yaml", "--out", tempDir("rein-cli-eval-")]);
    expect(piped.err).toBe("");
    const out = tempDir("rein-cli-eval-");
    const command = [process.execPath, BIN, "eval", "examples/evals/passing.suite.yaml", "--out", out]
      .map((a) => `'${a}'`)
      .join(" ");
    const tty = spawnSync("script", ["-qec", command, "/dev/null"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/█{30} 9\/9 {2}✓ 9 {2}✗ 0 {2}! 0/);
    const writes: string[] = [];
    expect(progressBar({ isTTY: false, write: (s) => writes.push(s) })).toBeUndefined();
    const bar = progressBar({ isTTY: true, write: (s) => writes.push(s) }, 4)!;
    bar.update({ total: 4, done: 1, passed: 1, failed: 0, errors: 0, skipped: 0 });
    bar.end();
    expect(writes).toEqual(["\r\x1b[2K█░░░ 1/4  ✓ 1  ✗ 0  ! 0", "\n"]);
  });
});
