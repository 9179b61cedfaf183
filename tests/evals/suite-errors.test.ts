import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSuite, validateSuite } from "../../src/evals.js";
import { EvaluationError } from "../../src/index.js";
import { tempDir } from "../helpers.js";

async function failure(text: string, name = "suite.yaml"): Promise<EvaluationError> {
  const dir = tempDir("rein-suite-");
  const file = join(dir, name);
  writeFileSync(file, text);
  try {
    await loadSuite(file);
  } catch (err) {
    expect(err).toBeInstanceOf(EvaluationError);
    return err as EvaluationError;
  }
  throw new Error("the suite loaded");
}

const HEAD = "name: s\nharness:\n  model: scripted:demo\ncases:\n";

describe("suites: a bad suite fails with file, line, case and field", () => {
  it("a missing file is REIN_EVAL_SUITE_NOT_FOUND", async () => {
    await expect(loadSuite("/nonexistent/suite.yaml")).rejects.toMatchObject({
      code: "REIN_EVAL_SUITE_NOT_FOUND",
      message: "Suite file not found: /nonexistent/suite.yaml",
    });
  });

  it("YAML syntax errors name the line", async () => {
    const e = await failure(`${HEAD}  - id: a\n    task: [unclosed\n`);
    expect(e.code).toBe("REIN_EVAL_SUITE_INVALID");
    expect(e.message).toMatch(/suite\.yaml:\d+: YAML syntax error/);
  });

  it("a missing field names the case and the field at the case's line", async () => {
    const e = await failure(`${HEAD}  - id: first\n    task: ok\n  - id: second\n    tags: [x]\n`);
    expect(e.message).toMatch(/suite\.yaml:7: case "second", field "task": missing; expected string/);
    expect(e.location).toMatchObject({ case: "second", field: "task", line: 7 });
  });

  it("an unknown field (a typo) is an error at its own line, not ignored", async () => {
    const e = await failure(
      `${HEAD}  - id: a\n    task: ok\n    expect:\n      file:\n        - { path: x, exists: true }\n`,
    );
    expect(e.message).toMatch(/suite\.yaml:8: case "a", field "expect\.file": unknown field/);
  });

  it("a validator with a wrong type names the nested field", async () => {
    const e = await failure(
      `${HEAD}  - id: a\n    task: ok\n    expect:\n      files:\n        - { path: 42, exists: true }\n`,
    );
    expect(e.location).toMatchObject({ case: "a", field: "expect.files[0].path", line: 9 });
  });

  it("a bad regular expression, a file check without a check, a bad JSON path", async () => {
    const bad = await failure(`${HEAD}  - id: a\n    task: ok\n    expect:\n      final: { matches: "(" }\n`);
    expect(bad.message).toMatch(
      /case "a", field "expect\.final\.matches": is not a valid regular expression/,
    );
    const empty = await failure(`${HEAD}  - id: a\n    task: ok\n    expect:\n      files: [{ path: x }]\n`);
    expect(empty.message).toMatch(
      /field "expect\.files\[0\]": a file check needs at least one of exists, equals, matches, json/,
    );
    const path = await failure(
      `${HEAD}  - id: a\n    task: ok\n    expect:\n      files: [{ path: x, json: { path: "a.b", equals: 1 } }]\n`,
    );
    expect(path.message).toMatch(/field "expect\.files\[0\]\.json\.path": use \$\.key\.key\[0\] syntax/);
  });

  it("duplicate case ids, a case id that cannot name a file, no model", async () => {
    const dup = await failure(`${HEAD}  - { id: a, task: ok }\n  - { id: a, task: again }\n`);
    expect(dup.message).toMatch(
      /suite\.yaml:6: case "a", field "id": duplicate case id \(case 1 has it too\)/,
    );
    const slash = await failure(`${HEAD}  - { id: ../up, task: ok }\n`);
    expect(slash.location).toMatchObject({ case: "../up", field: "id" });
    const none = await failure("name: s\ncases:\n  - { id: a, task: ok }\n");
    expect(none.message).toMatch(/case "a", field "harness\.model": no model/);
  });

  it("suite-level fields: a judge without a model, runs of 0, an empty case list", async () => {
    const judge = await failure(`${HEAD}  - { id: a, task: ok }\njudge: { samples: 3 }\n`);
    expect(judge.location).toMatchObject({ field: "judge.model" });
    const runs = await failure(`runs: 0\n${HEAD}  - { id: a, task: ok }\n`);
    expect(runs.message).toMatch(/suite\.yaml:1: field "runs"/);
    const empty = await failure("name: s\nharness: { model: scripted:demo }\ncases: []\n");
    expect(empty.location).toMatchObject({ field: "cases" });
  });

  it("a fixture that is not a directory names the case", async () => {
    const e = await failure(`${HEAD}  - { id: a, task: ok, fixture: ./missing }\n`);
    expect(e.message).toMatch(/suite\.yaml:5: case "a", field "fixture": .*missing is not a directory/);
  });

  it("relative paths resolve against the suite's folder", async () => {
    const dir = tempDir("rein-suite-");
    mkdirSync(join(dir, "fx"));
    writeFileSync(
      join(dir, "s.yaml"),
      "name: s\nharness: { model: scripted:./agent.yaml }\ncases:\n  - { id: a, task: ok, fixture: fx }\n",
    );
    const suite = await loadSuite(join(dir, "s.yaml"));
    expect(suite.harness.model).toBe(`scripted:${join(dir, "agent.yaml")}`);
    expect(suite.cases[0]!.fixture).toBe(join(dir, "fx"));
  });

  it("TypeScript suites: no default export, a throwing module, an invalid field, a custom check in YAML", async () => {
    const none = await failure("export const x = 1;\n", "s.mjs");
    expect(none.message).toMatch(/the module has no default export/);
    const throws = await failure("throw new Error('boom');\n", "s.mjs");
    expect(throws.message).toMatch(/the suite module failed to load: boom/);
    const bad = await failure(
      "export default { name: 's', harness: { model: 'scripted:demo' }, cases: [{ id: 'a', task: 'ok', runs: -1 }] };\n",
      "s.mjs",
    );
    expect(bad.message).toMatch(/s\.mjs: case "a", field "runs"/);
    const custom = await failure(`${HEAD}  - id: a\n    task: ok\n    expect: { custom: "return true" }\n`);
    expect(custom.message).toMatch(/field "expect\.custom": expected a function \(TypeScript suites only\)/);
  });

  it("validateSuite takes a suite object (what a TypeScript suite exports)", () => {
    expect(() => validateSuite({ name: "s", cases: [] })).toThrow(/<inline>: field "cases"/);
    expect(() => validateSuite(null)).toThrow(/the suite is empty or not an object/);
  });
});
