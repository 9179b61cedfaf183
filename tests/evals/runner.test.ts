import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSuite, report, runEval, type SuiteInput, validateSuite } from "../../src/evals.js";
import { EvaluationError, type Model, type ModelRequest, type ModelResponse } from "../../src/index.js";
import { scriptedModel } from "../../src/testing.js";
import { tempDir } from "../helpers.js";

const ZERO = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };

function suite(s: Partial<SuiteInput> & Pick<SuiteInput, "cases">) {
  const dir = tempDir("rein-evalsuite-");
  return validateSuite({ name: "t", harness: { trust: "autonomous" }, ...s }, join(dir, "suite.ts"));
}

const writeOnce = (content: string) => ({
  turns: [
    { tool_calls: [{ tool: "read_file", input: { path: "log.txt" } }] },
    {
      when: [
        { if: { error: "any" }, tool_calls: [{ tool: "write_file", input: { path: "log.txt", content } }] },
        { if: { ok: true }, say: "log.txt already existed: the workspace was not fresh." },
      ],
    },
    { say: "done" },
  ],
});

describe("eval runner", () => {
  it("gives every run a fresh workspace with the fixture copied in, and saves each run's transcript", async () => {
    const s = suite({
      runs: 3,
      harness: { model: scriptedModel(writeOnce("one line\n")), trust: "autonomous" },
      cases: [
        {
          id: "fresh",
          task: "log once",
          files: { "seed.txt": "from the fixture\n" },
          expect: {
            files: [
              { path: "log.txt", equals: "one line\n" },
              { path: "seed.txt", equals: "from the fixture\n" },
            ],
            tools: {
              called: [{ tool: "read_file" }, { tool: "write_file", input: { path: "log.txt" } }],
              ordered: true,
            },
          },
        },
      ],
    });
    const out = tempDir("rein-evalout-");
    const result = await runEval(s, { outDir: out, concurrency: 1 });
    expect(result.records.map((r) => [r.outcome, r.reasons])).toEqual([
      ["passed", []],
      ["passed", []],
      ["passed", []],
    ]);
    const lines = readFileSync(join(out, "transcripts/fresh/2.jsonl"), "utf8").trim().split("\n");
    const types = lines.map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types[0]).toBe("session_started");
    expect(types).toContain("tool_call_finished");
    expect(types.slice(-2)).toEqual(["run_ended", "session_ended"]);
    expect(JSON.parse(readFileSync(join(out, "runs/fresh/0.json"), "utf8"))).toMatchObject({
      caseId: "fresh",
      runIndex: 0,
      passed: true,
    });
  });

  it("checks fail with reasons that group: files, forbidden and unordered calls, final answer, stop reason", async () => {
    const s = suite({
      runs: 2,
      harness: {
        model: scriptedModel({
          turns: [
            { tool_calls: [{ tool: "delete_file", input: { path: "keep.txt" } }] },
            { say: "All gone." },
          ],
        }),
        trust: "autonomous",
      },
      maxTurns: 5,
      cases: [
        {
          id: "bad",
          task: "tidy up",
          files: { "keep.txt": "x", "data.json": '{"a":{"b":[1,2]}}' },
          expect: {
            files: [
              { path: "keep.txt", exists: true },
              { path: "data.json", json: { path: "$.a.b[1]", equals: 3 } },
              { path: "../outside", exists: true },
            ],
            tools: {
              called: [{ tool: "write_file" }],
              forbidden: [{ tool: "delete_file", input: { path: "keep.txt" } }],
            },
            final: { contains: ["kept"], matches: "^Nothing" },
            stopReason: "max_turns",
          },
        },
      ],
    });
    const r = report(await runEval(s, { outDir: tempDir("rein-evalout-") }));
    expect(r.cases[0]!.class).toBe("always_fail");
    expect(r.failureReasons.map((f) => [f.count, f.reason])).toEqual([
      [2, "file ../outside: missing"],
      [2, "file data.json: $.a.b[1] is not 3"],
      [2, "file keep.txt: missing"],
      [2, "final answer: does not match /^Nothing/"],
      [2, 'final answer: lacks "kept"'],
      [2, 'forbidden tool call delete_file {"path":"keep.txt"}: attempted'],
      [2, "stop reason completed (expected max_turns)"],
      [2, "tool call write_file: not made"],
    ]);
  });

  it("runs in parallel under the concurrency limit (a barrier of 2 would deadlock at 1; max in flight is 2, never more)", async () => {
    let inFlight = 0;
    let max = 0;
    let waiting: (() => void)[] = [];
    const barrier: Model = {
      id: "scripted:barrier",
      async generate(): Promise<ModelResponse> {
        inFlight++;
        max = Math.max(max, inFlight);
        if (inFlight >= 2) {
          for (const w of waiting) w();
          waiting = [];
        } else await new Promise<void>((r) => waiting.push(r));
        inFlight--;
        return {
          content: [{ type: "text", text: "ok" }],
          stopReason: "end_turn",
          usage: { ...ZERO },
          model: "scripted:barrier",
        };
      },
    };
    const s = suite({
      runs: 4,
      harness: { model: barrier },
      cases: [{ id: "p", task: "go", expect: { final: { equals: "ok" } } }],
    });
    const result = await runEval(s, { outDir: tempDir("rein-evalout-"), concurrency: 2 });
    expect(result.records.filter((r) => r.passed)).toHaveLength(4);
    expect(max).toBe(2);
  });

  it("an eval-wide budget, through the shared ledger budget, stops cleanly: no new run starts, the cut run is counted", async () => {
    const priced = { turns: [{ say: "done", usage: { input_tokens: 1000, output_tokens: 1000 } }] };
    const s = suite({
      runs: 8,
      budget: { maxCostUsd: 0.1 },
      harness: { model: scriptedModel({ name: "priced", ...priced }), price: { input: 10, output: 10 } },
      cases: [{ id: "spend", task: "spend", expect: { final: { equals: "done" } } }],
    });
    const result = await runEval(s, { outDir: tempDir("rein-evalout-"), concurrency: 1 });
    const budget = result.records.filter((r) => r.error?.kind === "budget");
    expect(budget).toHaveLength(1);
    expect(budget[0]!.reasons).toEqual(["eval budget exhausted"]);
    expect(result.stopped).toMatchObject({ reason: "budget", limitUsd: 0.1 });
    expect(result.costUsd).toBeLessThanOrEqual(0.1);
    expect(result.records.filter((r) => r.passed).length).toBe(result.records.length - 1);
    expect(result.notRun.length).toBe(8 - result.records.length);
    expect(result.notRun.length).toBeGreaterThan(0);
    const r = report(result);
    expect(r.n).toBe(result.records.length);
    expect(r.errors).toBe(1);
    expect(r.notRun).toBe(result.notRun.length);
  });

  it("infrastructure errors are counted apart from failures and stay in the denominators", async () => {
    const s = suite({
      runs: 3,
      harness: {
        model: (run: { caseId: string; runIndex: number }) =>
          scriptedModel({
            name: "infra",
            turns: [
              run.caseId === "i" && run.runIndex === 0 ? { fail: "provider down (HTTP 503)" } : { say: "ok" },
            ],
          }),
      },
      cases: [
        { id: "i", task: "go", expect: { final: { equals: "ok" } } },
        {
          id: "broken-check",
          task: "go",
          runs: 1,
          expect: {
            custom: () => {
              throw new Error("the check itself crashed");
            },
          },
        },
      ],
    });
    const result = await runEval(s, { outDir: tempDir("rein-evalout-") });
    const r = report(result);
    const i = r.cases[0]!;
    expect([i.n, i.passed, i.failed, i.errors]).toEqual([3, 2, 0, 1]);
    expect(i.passRate.rate).toBeCloseTo(2 / 3, 12);
    expect(i.passAtK["1"]).toMatchObject({ num: "2", den: "3" });
    expect(i.runs[0]!.error).toMatchObject({ code: "REIN_MODEL_CALL_FAILED", kind: "infrastructure" });
    expect(i.class).toBe("flaky");
    const b = r.cases[1]!;
    expect(b.runs[0]).toMatchObject({
      outcome: "error",
      error: { message: "the check itself crashed", kind: "infrastructure" },
    });
    expect(b.class).toBe("no_runs");
    expect([r.n, r.errors]).toEqual([4, 2]);
  });

  it("custom checks read the workspace and the transcript", async () => {
    const s = suite({
      runs: 1,
      harness: {
        model: scriptedModel({
          turns: [
            { tool_calls: [{ tool: "write_file", input: { path: "a.txt", content: "A" } }] },
            { say: "ok" },
          ],
        }),
      },
      cases: [
        {
          id: "c",
          task: "go",
          expect: {
            custom: (ctx) => ({
              pass: ctx.readFile("a.txt") === "B" && ctx.events.length > 0,
              reason: `a.txt holds ${ctx.readFile("a.txt")}, ${ctx.events.filter((e) => e.type === "tool_call_finished").length} call`,
            }),
          },
        },
      ],
    });
    const [run] = (await runEval(s, { outDir: tempDir("rein-evalout-") })).records;
    expect(run!.reasons).toEqual(["custom check: a.txt holds A, 1 call"]);
  });

  it("--resume skips finished runs (results are written as each run ends); a changed plan is refused", async () => {
    let calls = 0;
    const counting = () => {
      const inner = scriptedModel({ name: "count", turns: [{ say: "ok" }] });
      return {
        id: inner.id,
        generate: (q: ModelRequest) => {
          calls++;
          return inner.generate(q);
        },
      } satisfies Model;
    };
    const input = {
      runs: 3,
      harness: { model: counting },
      cases: [{ id: "r", task: "go", expect: { final: { equals: "ok" } } }],
    };
    const s = suite(input);
    const out = tempDir("rein-evalout-");
    await runEval(s, { outDir: out });
    expect(calls).toBe(3);
    rmSync(join(out, "runs/r/1.json"));
    const resumed = await runEval(s, { outDir: out, resume: true });
    expect(calls).toBe(4);
    expect(resumed.resumed).toBe(2);
    expect(resumed.records.map((r) => r.runIndex)).toEqual([0, 1, 2]);
    await runEval(s, { outDir: out });
    expect(calls).toBe(7);
    await expect(runEval(s, { outDir: out, resume: true, runs: 5 })).rejects.toSatisfy(
      (e) => e instanceof EvaluationError && e.code === "REIN_EVAL_RESUME_MISMATCH",
    );
  });

  it("a configured sandbox is fresh per run: run_shell runs in bubblewrap and sees only its own workspace", async () => {
    const s = suite({
      runs: 2,
      harness: {
        model: scriptedModel({
          turns: [
            { tool_calls: [{ tool: "run_shell", input: { command: "ls; touch made-by-a-run" } }] },
            { say: "ok" },
          ],
        }),
        sandbox: "bubblewrap",
        trust: "autonomous",
      },
      cases: [
        {
          id: "sb",
          task: "look",
          files: { "task.txt": "x" },
          expect: {
            files: [{ path: "made-by-a-run", exists: true }],
            custom: (ctx) => {
              const e = ctx.events.find((x) => x.type === "tool_call_finished");
              const content = e?.type === "tool_call_finished" ? e.data.content : "";
              return {
                pass:
                  e?.type === "tool_call_finished" &&
                  e.data.ok &&
                  content.includes("task.txt") &&
                  !content.includes("made-by-a-run"),
                reason: content,
              };
            },
          },
        },
      ],
    });
    const result = await runEval(s, { outDir: tempDir("rein-evalout-"), concurrency: 1 });
    expect(result.records.map((r) => r.reasons)).toEqual([[], []]);
    expect(existsSync(join(result.outDir, "transcripts/sb/1.jsonl"))).toBe(true);
  });

  it("a case's policy file (relative to the suite) is applied to its runs", async () => {
    const dir = tempDir("rein-evalpolicy-");
    writeFileSync(join(dir, "strict.policy.yaml"), "version: 1\ntools:\n  write_file: HIGH\n");
    writeFileSync(
      join(dir, "agent.yaml"),
      "turns:\n  - tool_calls: [{ tool: write_file, input: { path: a.txt, content: A } }]\n  - say: done\n",
    );
    const yaml = (policy: string) =>
      `name: p\nruns: 1\nharness: { model: scripted:./agent.yaml, trust: supervised }\ncases:\n  - id: w\n    task: write\n${policy}    expect: { files: [{ path: a.txt, equals: A }] }\n`;
    writeFileSync(join(dir, "with.yaml"), yaml("    harness: { policy: ./strict.policy.yaml }\n"));
    writeFileSync(join(dir, "without.yaml"), yaml(""));
    const denied = await runEval(await loadSuite(join(dir, "with.yaml")), {
      outDir: tempDir("rein-evalout-"),
    });
    expect(denied.records[0]!.reasons).toEqual(["file a.txt: missing"]);
    const events = readFileSync(join(denied.outDir, "transcripts/w/0.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === "tool_call_finished").data.errorType).toBe("permission_denied");
    const allowed = await runEval(await loadSuite(join(dir, "without.yaml")), {
      outDir: tempDir("rein-evalout-"),
    });
    expect(allowed.records[0]!.passed).toBe(true);
  });

  it("per-case maxTurns and timeoutMs bound each run", async () => {
    const s = suite({
      runs: 1,
      harness: {
        model: (id: { caseId: string }) =>
          scriptedModel(
            id.caseId === "loops"
              ? {
                  turns: [
                    { tool_calls: [{ tool: "list_directory", input: { path: "." } }], repeat: 10 },
                    { say: "done" },
                  ],
                }
              : { turns: [{ say: "late", delay_ms: 60_000 }] },
          ),
      },
      cases: [
        { id: "loops", task: "go", maxTurns: 2, expect: { stopReason: "max_turns" } },
        { id: "slow", task: "go", timeoutMs: 200, expect: { stopReason: "timeout" } },
      ],
    });
    const result = await runEval(s, { outDir: tempDir("rein-evalout-") });
    expect(result.records.map((r) => [r.caseId, r.stopReason, r.turns, r.passed])).toEqual([
      ["loops", "max_turns", 2, true],
      ["slow", "timeout", 1, true],
    ]);
  });
});
