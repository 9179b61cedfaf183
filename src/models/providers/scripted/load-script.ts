/**
 * Reading and validating scripted-model scripts, with errors that name the file, line, turn and
 * field of each problem: `scripts/demo.yaml:14: turn 3, field "tool_calls[0].tool": expected a string, got the number 42`.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { extname } from "node:path";
import type { Document, LineCounter, Node } from "yaml";
import { z } from "zod/v4";
import { ScriptError } from "../../../protocol/errors.js";
import { formatIssuePath } from "../../../protocol/zod-issues.js";
import { type Script, scriptSchema } from "./script-schema.js";

type YamlModule = typeof import("yaml");
let yamlModule: YamlModule | undefined;

/**
 * The YAML parser, loaded on first use: `import "rein"` must not pay for a parser that only
 * YAML scripts need. A synchronous `require` (yaml ships CommonJS for Node) keeps `loadScript`
 * and `scriptedModel(path)` synchronous.
 */
function yaml(): YamlModule {
  yamlModule ??= createRequire(import.meta.url)("yaml") as YamlModule;
  return yamlModule;
}

/** Loads a script file: `.json` files parse as JSON, anything else as YAML. Synchronous. */
export function loadScript(path: string): Script {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new ScriptError("REIN_SCRIPT_NOT_FOUND", `Script file not found: ${path}`, { file: path });
    }
    throw new ScriptError(
      "REIN_SCRIPT_INVALID",
      `Cannot read script file ${path}: ${(err as Error).message}`,
      {
        file: path,
      },
    );
  }
  return parseScript(text, path);
}

/** Parses script text; `file` names it in errors and decides the syntax (`.json`: JSON, else YAML). */
export function parseScript(text: string, file: string): Script {
  // JSON.parse rejects a byte-order mark; the YAML parser skips it.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return extname(file).toLowerCase() === ".json" ? parseJsonScript(text, file) : parseYamlScript(text, file);
}

/** Validates an already parsed script (an inline object). Errors name `file`, the turn and the field. */
export function validateScript(value: unknown, file = "<inline>"): Script {
  return validate(value, file, undefined);
}

function parseYamlScript(text: string, file: string): Script {
  const { LineCounter, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const syntaxError = doc.errors[0];
  if (syntaxError) {
    const line = syntaxError.linePos?.[0].line;
    // The library appends " at line L, column C:" and a code frame; we print the line our own way.
    const reason = syntaxError.message.split(" at line ")[0];
    throw new ScriptError("REIN_SCRIPT_INVALID", `${where(file, line)}: YAML syntax error: ${reason}`, {
      file,
      ...(line === undefined ? {} : { line }),
    });
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    // e.g. the alias-count limit that guards against "billion laughs" documents.
    throw new ScriptError("REIN_SCRIPT_INVALID", `${file}: ${(err as Error).message}`, { file });
  }
  return validate(value, file, () => ({ doc, lineCounter }));
}

function parseJsonScript(text: string, file: string): Script {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const position = /at position (\d+)/.exec(message)?.[1];
    const line = position === undefined ? undefined : lineAtOffset(text, Number(position));
    // V8 says "… in JSON at position N (line L column C)", or quotes the text around an unexpected
    // token without a position: keep the reason, drop the rest.
    const reason = message
      .replace(/ in JSON at position .*$/, "")
      .replace(/, (\.\.\.)?".*" is not valid JSON$/s, "");
    throw new ScriptError("REIN_SCRIPT_INVALID", `${where(file, line)}: JSON syntax error: ${reason}`, {
      file,
      ...(line === undefined ? {} : { line }),
    });
  }
  // Valid JSON is valid YAML, so the YAML parser gives node positions for errors. It runs only when
  // validation fails; duplicate keys are allowed because JSON allows them.
  return validate(value, file, () => {
    const { LineCounter, parseDocument } = yaml();
    const lineCounter = new LineCounter();
    return { doc: parseDocument(text, { lineCounter, uniqueKeys: false }), lineCounter };
  });
}

interface SourceMap {
  doc: Document;
  lineCounter: LineCounter;
}

/** One validation problem, located. */
interface Problem {
  turn: number | undefined;
  field: string | undefined;
  line: number | undefined;
  message: string;
}

function validate(value: unknown, file: string, source: (() => SourceMap) | undefined): Script {
  if (value === null || value === undefined) {
    throw new ScriptError("REIN_SCRIPT_INVALID", `${file}: the script is empty; it needs a "turns" list`, {
      file,
    });
  }
  const result = scriptSchema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;

  const map = source?.();
  const problems: Problem[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === "unrecognized_keys") {
      const allowed = allowedKeysAt(issue.path);
      for (const key of issue.keys) {
        problems.push(problem([...issue.path, key], unknownFieldMessage(key, allowed), map, true));
      }
    } else {
      problems.push(problem(issue.path, issueMessage(issue), map, false));
    }
  }
  // Report in reading order; zod lists unknown keys after the known ones.
  if (map) problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  const first = problems[0]!;
  const lines = problems.map((p) => `${where(file, p.line)}: ${subject(p)}${p.message}`);
  const more = lines.length > 1 ? `\n${lines.slice(1).join("\n")}` : "";
  throw new ScriptError("REIN_SCRIPT_INVALID", lines[0] + more, {
    file,
    ...(first.turn === undefined ? {} : { turn: first.turn }),
    ...(first.field === undefined ? {} : { field: first.field }),
    ...(first.line === undefined ? {} : { line: first.line }),
  });
}

function problem(
  path: readonly PropertyKey[],
  message: string,
  map: SourceMap | undefined,
  isKey: boolean,
): Problem {
  let turn: number | undefined;
  let rest = path;
  if (path[0] === "turns" && typeof path[1] === "number") {
    turn = path[1] + 1;
    rest = path.slice(2);
  }
  const field = rest.length > 0 ? formatIssuePath(rest) : undefined;
  const line = map ? lineOf(map, path, isKey) : undefined;
  return { turn, field, line, message };
}

function subject(p: Problem): string {
  if (p.turn !== undefined && p.field !== undefined) return `turn ${p.turn}, field "${p.field}": `;
  if (p.turn !== undefined) return `turn ${p.turn}: `;
  if (p.field !== undefined) return `field "${p.field}": `;
  return "the script: ";
}

function where(file: string, line: number | undefined): string {
  return line === undefined ? file : `${file}:${line}`;
}

function lineAtOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * The line of the node at `path`, or of its nearest existing ancestor (a missing field is reported
 * at the object that lacks it). With `isKey`, the last segment names a key and its key node is used.
 */
function lineOf(
  { doc, lineCounter }: SourceMap,
  path: readonly PropertyKey[],
  isKey: boolean,
): number | undefined {
  const { isAlias, isMap, isScalar, isSeq } = yaml();
  let node: unknown = doc.contents;
  let found = node;
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    const segment = path[i];
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (pair) next = isKey && i === path.length - 1 ? pair.key : pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      next = node.items[segment];
    }
    if (!hasRange(next)) break;
    node = found = next;
  }
  return hasRange(found) ? lineCounter.linePos(found.range[0]).line : undefined;
}

function hasRange(node: unknown): node is Node & { range: [number, number, number] } {
  return typeof node === "object" && node !== null && Array.isArray((node as Node).range);
}

function issueMessage(issue: z.core.$ZodIssue): string {
  const input = issue.input;
  switch (issue.code) {
    case "invalid_type":
      return input === undefined
        ? `missing; expected ${noun(issue.expected)}`
        : `expected ${noun(issue.expected)}, got ${describe(input)}`;
    case "invalid_value": {
      const expected = issue.values.map((v) => JSON.stringify(v));
      const what = expected.length === 1 ? expected[0] : `one of ${expected.join(", ")}`;
      return `expected ${what}, got ${describe(input)}`;
    }
    case "too_small":
      if (issue.origin === "array") {
        const last = issue.path[issue.path.length - 1];
        if (last === "turns") return "a script needs at least one turn";
        return `needs at least ${issue.minimum} item${Number(issue.minimum) === 1 ? "" : "s"}`;
      }
      if (issue.origin === "string") return "must not be empty";
      return `must be at least ${issue.minimum}, got ${describe(input)}`;
    case "invalid_union":
      // Only z.json() is a union here: tool-call inputs must be plain JSON.
      return `expected a JSON value, got ${describe(input)}`;
    default:
      return issue.message;
  }
}

function noun(expected: string): string {
  switch (expected) {
    case "int":
      return "an integer";
    case "object":
    case "record":
      return "an object";
    case "array":
      return "a list";
    case "null":
    case "undefined":
      return expected;
    default:
      return `a ${expected}`;
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string":
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case "number":
    case "bigint":
      return `the number ${String(value)}`;
    case "boolean":
      return String(value);
    case "object":
      return "an object";
    default:
      return `a ${typeof value}`;
  }
}

function unknownFieldMessage(key: string, allowed: readonly string[]): string {
  const suggestion = closest(key, allowed);
  const hint = suggestion === undefined ? "" : ` (did you mean "${suggestion}"?)`;
  return `unknown field${hint}; allowed fields: ${allowed.join(", ")}`;
}

/** The keys the strict object at `path` accepts, found by walking the schema along the path. */
function allowedKeysAt(path: readonly PropertyKey[]): string[] {
  let schema: z.core.$ZodType = scriptSchema;
  for (const segment of path) {
    while (schema instanceof z.ZodOptional) schema = schema.unwrap();
    if (schema instanceof z.ZodObject) schema = schema.shape[String(segment)] ?? schema;
    else if (schema instanceof z.ZodArray) schema = schema.element;
  }
  while (schema instanceof z.ZodOptional) schema = schema.unwrap();
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

/** The allowed key within edit distance 2 of `key`, if any (catches `tool_call`, `toolcalls`, `stop_reasn`). */
function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of allowed) {
    const d = editDistance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}
