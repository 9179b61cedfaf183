import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  loadScript,
  parseScript,
  validateScript,
} from "../../../../src/models/providers/scripted/load-script.js";
import { scriptedModel } from "../../../../src/models/providers/scripted/scripted-model.js";
import { ScriptError } from "../../../../src/protocol/errors.js";

/** The ScriptError `fn` throws; fails the test if it throws anything else or nothing. */
function scriptError(fn: () => unknown): ScriptError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ScriptError) return err;
    throw err;
  }
  throw new Error("expected a ScriptError, but nothing was thrown");
}

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "rein-script-")), name);
  writeFileSync(path, text);
  return path;
}

const YAML_OK = `name: cleanup-demo
turns:
  - say: "I'll look around first."
    tool_calls:
      - tool: list_directory
        input: { path: "." }
    usage: { input_tokens: 1200, output_tokens: 80 }
  - say: Done.
`;

describe("loading scripts", () => {
  it("loads a YAML file into the script it describes", () => {
    expect(loadScript(tempFile("demo.yaml", YAML_OK))).toEqual({
      name: "cleanup-demo",
      turns: [
        {
          say: "I'll look around first.",
          tool_calls: [{ tool: "list_directory", input: { path: "." } }],
          usage: { input_tokens: 1200, output_tokens: 80 },
        },
        { say: "Done." },
      ],
    });
  });

  it("loads a JSON file with JSON semantics", () => {
    const path = tempFile(
      "demo.json",
      JSON.stringify({ turns: [{ say: "yes", tool_calls: [{ tool: "t" }] }] }),
    );
    expect(loadScript(path)).toEqual({ turns: [{ say: "yes", tool_calls: [{ tool: "t" }] }] });
  });

  it("names the model after the script, else after the file", () => {
    expect(scriptedModel(tempFile("demo.yaml", YAML_OK)).id).toBe("scripted:cleanup-demo");
    expect(scriptedModel(tempFile("smoke-test.yml", "turns: [{ say: hi }]")).id).toBe("scripted:smoke-test");
    expect(scriptedModel({ turns: [{ say: "hi" }] }).id).toBe("scripted:inline");
    expect(scriptedModel({ name: "n", turns: [{ say: "hi" }] }).id).toBe("scripted:n");
  });

  it("accepts every example script in docs/scripted-model.md", () => {
    const doc = readFileSync(new URL("../../../../docs/scripted-model.md", import.meta.url), "utf8");
    const blocks = [...doc.matchAll(/```(yaml|json)\n(.*?)```/gs)];
    expect(blocks.map((b) => b[1])).toEqual(["yaml", "json"]);
    for (const [, lang, text] of blocks) expect(() => parseScript(text!, `example.${lang}`)).not.toThrow();
  });

  it("reports a missing file with REIN_SCRIPT_NOT_FOUND and its path", () => {
    const path = join(tmpdir(), "rein-no-such-dir", "gone.yaml");
    const err = scriptError(() => loadScript(path));
    expect(err.code).toBe("REIN_SCRIPT_NOT_FOUND");
    expect(err.message).toBe(`Script file not found: ${path}`);
    expect(err.location).toEqual({ file: path });
  });

  it("reports a directory given as a script as unreadable", () => {
    const dir = mkdtempSync(join(tmpdir(), "rein-script-"));
    const err = scriptError(() => loadScript(dir));
    expect(err.code).toBe("REIN_SCRIPT_INVALID");
    expect(err.message).toContain(`Cannot read script file ${dir}`);
  });
});

describe("syntax errors", () => {
  it("reports a YAML syntax error with file and line", () => {
    const text = "turns:\n  - say: hello\n  - say: 'unterminated\n";
    const err = scriptError(() => parseScript(text, "scripts/demo.yaml"));
    expect(err.code).toBe("REIN_SCRIPT_INVALID");
    expect(err.message).toMatch(/^scripts\/demo\.yaml:4: YAML syntax error: Missing closing 'quote$/);
    expect(err.location).toEqual({ file: "scripts/demo.yaml", line: 4 });
  });

  it("reports a duplicate YAML key as a syntax error at its line", () => {
    const err = scriptError(() => parseScript("turns:\n  - say: a\n    say: b\n", "d.yaml"));
    expect(err.message).toBe("d.yaml:3: YAML syntax error: Map keys must be unique");
  });

  it("reports a JSON syntax error with file and line", () => {
    const text = '{\n  "turns": [\n    { "say": "a" }\n    { "say": "b" }\n  ]\n}\n';
    const err = scriptError(() => parseScript(text, "scripts/demo.json"));
    expect(err.message).toBe(
      "scripts/demo.json:4: JSON syntax error: Expected ',' or ']' after array element",
    );
    expect(err.location).toEqual({ file: "scripts/demo.json", line: 4 });
  });

  it("parses .json files as JSON, not YAML: YAML-only syntax is an error", () => {
    const err = scriptError(() => parseScript("turns:\n  - say: hi\n", "s.json"));
    expect(err.code).toBe("REIN_SCRIPT_INVALID");
    // "t" could start `true`; "u" cannot. V8 gives no position for an unexpected token, so no line.
    expect(err.message).toBe("s.json: JSON syntax error: Unexpected token 'u'");
  });

  it("reports an empty file as an empty script", () => {
    const err = scriptError(() => parseScript("# nothing yet\n", "empty.yaml"));
    expect(err.message).toBe('empty.yaml: the script is empty; it needs a "turns" list');
  });
});

describe("validation errors name the file, line, turn and field", () => {
  it("reports a wrong type at the line of the value", () => {
    const text = [
      "name: demo", // 1
      "turns:", // 2
      "  - say: one", // 3
      "  - say: two", // 4
      "  - say: three", // 5
      "    tool_calls:", // 6
      "      - tool: 42", // 7
    ].join("\n");
    const err = scriptError(() => parseScript(text, "scripts/demo.yaml"));
    expect(err.message).toBe(
      'scripts/demo.yaml:7: turn 3, field "tool_calls[0].tool": expected a string, got the number 42',
    );
    expect(err.location).toEqual({
      file: "scripts/demo.yaml",
      turn: 3,
      field: "tool_calls[0].tool",
      line: 7,
    });
    expect(err.details).toEqual(err.location);
  });

  it("reports an unknown field at its key, suggesting the field that was meant", () => {
    const text = "turns:\n  - say: hi\n  - say: look\n    tool_call:\n      - tool: ls\n";
    const err = scriptError(() => parseScript(text, "scripts/demo.yaml"));
    expect(err.message).toBe(
      'scripts/demo.yaml:4: turn 2, field "tool_call": unknown field (did you mean "tool_calls"?); ' +
        "allowed fields: say, tool_calls, usage, fail, stop_reason, repeat, delay_ms, when",
    );
    expect(err.location).toEqual({ file: "scripts/demo.yaml", turn: 2, field: "tool_call", line: 4 });
  });

  it("reports unknown fields in nested objects with the fields allowed there", () => {
    const text = "turns:\n  - usage: { input_tokens: 1, output: 2 }\n";
    const err = scriptError(() => parseScript(text, "u.yaml"));
    expect(err.message).toBe(
      'u.yaml:2: turn 1, field "usage.output": unknown field; ' +
        "allowed fields: input_tokens, output_tokens, cache_read_tokens, cache_write_tokens",
    );
  });

  it("reports an unknown top-level field without a turn", () => {
    const err = scriptError(() =>
      parseScript("name: x\nturn:\n  - say: hi\nturns: [{ say: hi }]\n", "t.yaml"),
    );
    expect(err.message).toBe(
      't.yaml:2: field "turn": unknown field (did you mean "turns"?); allowed fields: name, turns',
    );
    expect(err.location).toEqual({ file: "t.yaml", field: "turn", line: 2 });
  });

  it("reports a missing required field at the object that lacks it", () => {
    const text = "turns:\n  - say: hi\n    tool_calls:\n      - input: { path: . }\n";
    const err = scriptError(() => parseScript(text, "m.yaml"));
    expect(err.message).toBe('m.yaml:4: turn 1, field "tool_calls[0].tool": missing; expected a string');
  });

  it("rejects an empty turns list", () => {
    const err = scriptError(() => parseScript("name: x\nturns: []\n", "e.yaml"));
    expect(err.message).toBe('e.yaml:2: field "turns": a script needs at least one turn');
    expect(err.location).toEqual({ file: "e.yaml", field: "turns", line: 2 });
  });

  it("rejects a missing turns list", () => {
    const err = scriptError(() => parseScript("name: x\n", "e.yaml"));
    expect(err.message).toBe('e.yaml:1: field "turns": missing; expected a list');
  });

  it("rejects a condition with no fields", () => {
    const text = "turns:\n  - say: a\n  - say: b\n    when:\n      - if: {}\n        say: c\n";
    const err = scriptError(() => parseScript(text, "c.yaml"));
    expect(err.message).toBe(
      'c.yaml:5: turn 2, field "when[0].if": a condition needs at least one of error, ok, tool, contains',
    );
    expect(err.location).toEqual({ file: "c.yaml", turn: 2, field: "when[0].if", line: 5 });
  });

  it("rejects a stop reason that is not one of the model's", () => {
    const err = scriptError(() => parseScript("turns:\n  - say: a\n    stop_reason: done\n", "s.yaml"));
    expect(err.message).toBe(
      's.yaml:3: turn 1, field "stop_reason": expected one of "end_turn", "tool_use", "max_tokens", ' +
        '"stop_sequence", "refusal", got the string "done"',
    );
  });

  it("rejects ok: false (ask for failures with error: any)", () => {
    const text = "turns:\n  - say: a\n  - when:\n      - if: { ok: false }\n        say: b\n";
    const err = scriptError(() => parseScript(text, "o.yaml"));
    expect(err.message).toBe('o.yaml:4: turn 2, field "when[0].if.ok": expected true, got false');
  });

  it("rejects a repeat that is not a positive integer, and negative token counts", () => {
    expect(scriptError(() => parseScript("turns:\n  - repeat: 0\n", "r.yaml")).message).toBe(
      'r.yaml:2: turn 1, field "repeat": must be at least 1, got the number 0',
    );
    expect(scriptError(() => parseScript("turns:\n  - repeat: 1.5\n", "r.yaml")).message).toBe(
      'r.yaml:2: turn 1, field "repeat": expected an integer, got the number 1.5',
    );
    expect(
      scriptError(() => parseScript("turns:\n  - usage: { input_tokens: -1 }\n", "r.yaml")).message,
    ).toBe('r.yaml:2: turn 1, field "usage.input_tokens": must be at least 0, got the number -1');
  });

  it("rejects a turn that is not an object", () => {
    const err = scriptError(() => parseScript("turns:\n  - say: a\n  - just text\n", "n.yaml"));
    expect(err.message).toBe('n.yaml:3: turn 2: expected an object, got the string "just text"');
    expect(err.location).toEqual({ file: "n.yaml", turn: 2, line: 3 });
  });

  it("rejects a script that is not an object", () => {
    const err = scriptError(() => parseScript("- say: a\n", "l.yaml"));
    expect(err.message).toBe("l.yaml:1: the script: expected an object, got a list");
  });

  it("lists every problem in reading order, locating the first", () => {
    const text = "turns:\n  - sya: a\n  - say: 3\n";
    const err = scriptError(() => parseScript(text, "p.yaml"));
    expect(err.message.split("\n")).toEqual([
      'p.yaml:2: turn 1, field "sya": unknown field (did you mean "say"?); ' +
        "allowed fields: say, tool_calls, usage, fail, stop_reason, repeat, delay_ms, when",
      'p.yaml:3: turn 2, field "say": expected a string, got the number 3',
    ]);
    expect(err.location).toEqual({ file: "p.yaml", turn: 1, field: "sya", line: 2 });
  });

  it("gives line numbers for JSON files too", () => {
    const text = '{\n  "turns": [\n    { "say": "a" },\n    { "say": "b", "stop_reason": 7 }\n  ]\n}\n';
    const err = scriptError(() => parseScript(text, "j.json"));
    expect(err.message).toMatch(/^j\.json:4: turn 2, field "stop_reason": expected one of /);
    expect(err.location.line).toBe(4);
  });

  it("names <inline> and no line for inline scripts", () => {
    const err = scriptError(() =>
      validateScript({ turns: [{ say: "a" }, { tool_calls: [{ tool: "x", input: 3 }] }] }),
    );
    expect(err.message).toBe(
      '<inline>: turn 2, field "tool_calls[0].input": expected an object, got the number 3',
    );
    expect(err.location).toEqual({ file: "<inline>", turn: 2, field: "tool_calls[0].input" });
  });

  it("rejects tool inputs that are not plain JSON", () => {
    const err = scriptError(() =>
      scriptedModel({ turns: [{ tool_calls: [{ tool: "x", input: { run: () => 1 } }] }] }),
    );
    expect(err.message).toBe(
      '<inline>: turn 1, field "tool_calls[0].input.run": expected a JSON value, got a function',
    );
  });
});
