import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  baselineOf,
  compare,
  type EvalReport,
  fingerprintOf,
  loadBaseline,
  report,
  runEval,
  validateSuite,
} from "../../src/evals.js";
import { EvaluationError } from "../../src/index.js";
import { scriptedModel } from "../../src/testing.js";
import { tempDir } from "../helpers.js";

/** A report of `cases` cases whose runs pass according to `passes(case, run)`. */
async function evalOf(
  cases: number,
  runs: number,
  passes: (c: number, run: number) => boolean,
): Promise<EvalReport> {
  const suite = validateSuite(
    {
      name: "paired",
      runs,
      harness: {
        model: (id: { caseId: string; runIndex: number }) =>
          scriptedModel({
            name: "p",
            turns: [{ say: passes(Number(id.caseId.slice(1)), id.runIndex) ? "pass" : "fail" }],
          }),
      },
      cases: Array.from({ length: cases }, (_, i) => ({
        id: `c${i}`,
        task: "t",
        expect: { final: { equals: "pass" } },
      })),
    },
    join(tempDir("rein-reg-"), "suite.ts"),
  );
  return report(await runEval(suite, { outDir: tempDir("rein-evalout-") }));
}

describe("regression guard: a paired test over cases", () => {
  it("6 of 7 cases flipping to fail is regressed (p = 2/64), exit code 1; the fingerprint says what changed", async () => {
    const before = await evalOf(7, 2, () => true);
    const fpBefore = fingerprintOf(before, { model: "v1" }, undefined, new Date("2026-01-01T00:00:00Z"));
    const baseline = baselineOf(before, fpBefore);
    expect(baseline.fingerprint).toMatchObject({
      model: ["scripted:p"],
      harness: { model: "v1" },
      sandbox: "none configured",
      date: "2026-01-01T00:00:00.000Z",
      suite: "paired",
    });
    expect(baseline.fingerprint.gitSha).toMatch(/^[0-9a-f]{40}$/);
    const after = await evalOf(7, 2, (c) => c === 0);
    const c = compare(after, baseline, fingerprintOf(after, { model: "v2" }, undefined));
    expect(c.verdict).toBe("regressed");
    expect(c.exitCode).toBe(1);
    expect(c.pairedTest).toMatchObject({ pairedCases: 7, improved: [], pValue: 0.03125 });
    expect(c.pairedTest.regressed).toHaveLength(6);
    expect(c.changed).toEqual(["harness"]);
    expect(c.rules[0]).toMatchObject({ rule: "pass rate drop", breached: true });
  });

  it("4 of 4 flipping is inconclusive (p = 1/8): too few cases to tell noise from change, whatever the drop", async () => {
    const baseline = baselineOf(
      await evalOf(4, 1, () => true),
      fingerprintOf(await evalOf(1, 1, () => true), {}, undefined),
    );
    const c = compare(
      await evalOf(4, 1, () => false),
      baseline,
      fingerprintOf(await evalOf(1, 1, () => true), {}, undefined),
    );
    expect(c.verdict).toBe("inconclusive");
    expect(c.pairedTest.pValue).toBe(0.125);
    expect(c.exitCode).toBe(0);
    // The threshold rule is still reported, and can fail CI when asked to.
    expect(c.rules[0]).toMatchObject({ breached: true, value: 1 });
    expect(
      compare(await evalOf(4, 1, () => false), baseline, c.current, { failOnThresholds: true }).exitCode,
    ).toBe(1);
  });

  it("improved when cases flip to pass; a significant but tiny move under the threshold is inconclusive", async () => {
    const base = await evalOf(8, 1, () => false);
    const baseline = baselineOf(base, fingerprintOf(base, {}, undefined));
    const better = await evalOf(8, 1, () => true);
    expect(compare(better, baseline, fingerprintOf(better, {}, undefined)).verdict).toBe("improved");
    expect(
      compare(better, baseline, fingerprintOf(better, {}, undefined), { passRateDrop: 1.01 }).verdict,
    ).toBe("inconclusive");
  });

  it("flaky noise that moves cases both ways is inconclusive", async () => {
    const base = await evalOf(8, 4, (c, r) => (c + r) % 2 === 0);
    const now = await evalOf(8, 4, (c, r) => (c < 4 ? r < 3 : r < 1));
    const c = compare(
      now,
      baselineOf(base, fingerprintOf(base, {}, undefined)),
      fingerprintOf(now, {}, undefined),
    );
    expect([c.pairedTest.improved.length, c.pairedTest.regressed.length, c.pairedTest.pValue]).toEqual([
      4, 4, 1,
    ]);
    expect(c.verdict).toBe("inconclusive");
  });

  it("a file that is not a baseline is REIN_EVAL_BASELINE_INVALID naming the field", () => {
    const dir = tempDir("rein-base-");
    writeFileSync(join(dir, "b.json"), JSON.stringify({ kind: "rein-eval-baseline", version: 2 }));
    expect(() => loadBaseline(join(dir, "b.json"))).toThrow(EvaluationError);
    expect(() => loadBaseline(join(dir, "b.json"))).toThrow(/not a rein eval baseline: field "version"/);
    writeFileSync(join(dir, "c.json"), "{oops");
    expect(() => loadBaseline(join(dir, "c.json"))).toThrow(/cannot read the baseline/);
  });
});
