/// <reference lib="dom" />
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { describe, expect, it } from "vitest";
import {
  baselineOf,
  compare,
  type EvalReport,
  fingerprintOf,
  formatReport,
  htmlReport,
  junitReport,
  passAtK,
  passHatK,
  report,
  runEval,
  validateSuite,
} from "../../src/evals.js";
import { scriptedModel } from "../../src/testing.js";
import { tempDir } from "../helpers.js";

const CHROMIUM = "/usr/bin/chromium";

/** A report with a flaky case, a failing one, an infrastructure error, hostile text in a case id's reasons, and a comparison. */
async function sampleReport(): Promise<EvalReport> {
  const suite = validateSuite(
    {
      name: "reports",
      runs: 4,
      harness: {
        model: (id: { caseId: string; runIndex: number }) =>
          scriptedModel({
            name: "r",
            turns: [
              id.caseId === "infra" && id.runIndex === 0
                ? { fail: "down" }
                : {
                    say:
                      id.caseId === "flaky" && id.runIndex % 2 === 1
                        ? "<script>alert(1)</script> & ]]>"
                        : "ok",
                  },
            ],
          }),
      },
      cases: [
        { id: "flaky", task: "t", tags: ["a"], expect: { final: { equals: "ok" } } },
        { id: "fails", task: "t", tags: ["a", "b"], expect: { final: { contains: "</failure><x>" } } },
        { id: "infra", task: "t", expect: { final: { equals: "ok" } } },
      ],
    },
    join(tempDir("rein-rep-"), "suite.ts"),
  );
  const r = report(await runEval(suite, { outDir: tempDir("rein-evalout-") }));
  const fp = fingerprintOf(r, {}, undefined);
  const base = baselineOf({ ...r, cases: r.cases.map((c) => ({ ...c, passed: c.n })) }, fp);
  return { ...r, comparison: compare(r, base, fp) };
}

describe("eval reports", () => {
  it("the JSON report keeps every case's runs, from which its metrics recompute exactly", async () => {
    const r = JSON.parse(JSON.stringify(await sampleReport())) as EvalReport;
    for (const c of r.cases) {
      const n = c.runs.length;
      const passed = c.runs.filter((x) => x.passed).length;
      expect([c.n, c.passed]).toEqual([n, passed]);
      for (const k of r.ks) {
        expect(c.passAtK[String(k)]).toEqual(passAtK(n, passed, k) ?? null);
        expect(c.passHatK[String(k)]).toEqual(passHatK(n, passed, k) ?? null);
      }
    }
    expect(r.cases.map((c) => [c.id, c.class, c.errors])).toEqual([
      ["flaky", "flaky", 0],
      ["fails", "always_fail", 0],
      ["infra", "flaky", 1],
    ]);
    expect(r.passAtK["5"]).toBeNull();
    expect(r.byTag.b).toMatchObject({ cases: 1, n: 4, passed: 0 });
    expect(r.byTag.a).toMatchObject({ cases: 2, n: 8, passed: 2 });
  });

  it("the terminal table shows each case, the suite's figures with sample sizes, reasons, tags and the comparison", async () => {
    const text = formatReport(await sampleReport());
    expect(text).toMatch(
      /^eval reports: 5\/12 runs passed \(42%, 95% CI \d+%–\d+%\), 6 failed, 1 infrastructure errors/,
    );
    expect(text).toMatch(/\nflaky +2\/4 +50% +\d+%–\d+% +1\/2 +5\/6 +n\/a +1\/2 +1\/6 +n\/a +flaky/);
    expect(text).toContain("turns: mean 1.0, median 1.0, p95 1.0 (n=11)");
    expect(text).toContain('4× final answer: lacks "</failure><x>"  (fails)');
    expect(text).toContain("by tag: a 2/8 (25%), b 0/4 (0%)");
    expect(text).toMatch(/baseline: INCONCLUSIVE — pass rate 100% → 42%/);
  });

  it("HTML (self-contained, inline SVG plots) renders in headless Chromium with no console error; JUnit XML parses", async () => {
    const r = await sampleReport();
    const dir = tempDir("rein-html-");
    const html = join(dir, "report.html");
    writeFileSync(html, htmlReport(r));
    writeFileSync(join(dir, "junit.xml"), junitReport(r));
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu"],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warn") problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`pageerror: ${String(e)}`));
      page.on("request", (q) => requests.push(q.url()));
      page.on("dialog", (d) => {
        problems.push(`dialog: ${d.message()}`);
        void d.dismiss();
      });
      await page.goto(`file://${html}`, { waitUntil: "load" });
      const shape = await page.evaluate(() => ({
        title: document.title,
        svgs: document.querySelectorAll("svg").length,
        rates: document.querySelectorAll("circle.rate").length,
        intervals: document.querySelectorAll("line.ci").length,
        bars: document.querySelectorAll("rect.bar").length,
        baseline: document.querySelectorAll("circle.baseline").length,
        scripts: document.querySelectorAll("script").length,
        summary: document.querySelector("#summary")?.textContent ?? "",
        cells: Array.from(document.querySelectorAll("td"), (td) => td.textContent).join("|"),
      }));
      expect(shape.title).toBe("rein eval: reports");
      expect(shape.svgs).toBe(4);
      expect([shape.rates, shape.intervals, shape.baseline]).toEqual([3, 3, 3]);
      expect(shape.bars).toBeGreaterThan(0);
      // The model's "<script>" stayed text.
      expect(shape.scripts).toBe(0);
      expect(shape.summary).toMatch(/^5\/12 runs passed/);
      expect(shape.cells).toContain("2× final answer: differs|");
      expect(shape.cells).toContain('4× final answer: lacks "</failure><x>"');
      const shot = await page.screenshot({ path: join(dir, "report.png"), fullPage: true });
      expect(Buffer.from(shot).subarray(1, 4).toString()).toBe("PNG");
      expect(readFileSync(join(dir, "report.png")).length).toBeGreaterThan(5_000);
      expect(problems).toEqual([]);
      expect(requests).toEqual([`file://${html}`]);

      const junit = await page.evaluate(
        (text) => {
          const doc = new DOMParser().parseFromString(text, "application/xml");
          return {
            error: doc.querySelector("parsererror")?.textContent ?? null,
            cases: doc.querySelectorAll("testcase").length,
            failures: doc.querySelectorAll("testcase > failure").length,
            errors: doc.querySelectorAll("testcase > error").length,
            suite: doc.querySelector("testsuite")?.getAttribute("failures"),
            message: doc.querySelector("testcase > failure")?.getAttribute("message"),
          };
        },
        readFileSync(join(dir, "junit.xml"), "utf8"),
      );
      expect(junit).toEqual({
        error: null,
        cases: 12,
        failures: 6,
        errors: 1,
        suite: "6",
        message: "final answer: differs",
      });
    } finally {
      await browser.close();
    }
  });
});
