/**
 * Loading eval suites: YAML (`.yaml`, `.yml`), JSON, or a TypeScript/JavaScript module whose default
 * export is `defineSuite({...})`. Every problem is an `EvaluationError` naming the file, line (YAML and
 * JSON), case and field: `suite.yaml:14: case "read-notes", field "expect.files[0].path": …`.
 * Relative paths (fixtures, policy files, `scripted:` script files) resolve against the suite's folder.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, extname, isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Document, LineCounter } from "yaml";
import type { z } from "zod/v4";
import { EvaluationError } from "../protocol/errors.js";
import { formatIssuePath } from "../protocol/zod-issues.js";
import { type HarnessSpec, type SuiteSpec, suiteSchema } from "./suite-schema.js";

/** A validated suite and where it came from. */
export interface LoadedSuite extends SuiteSpec {
  /** The suite file (absolute), or `<inline>`. */
  readonly file: string;
}

/**
 * Loads and validates a suite file. Throws `EvaluationError` (`REIN_EVAL_SUITE_NOT_FOUND`, `REIN_EVAL_SUITE_INVALID`).
 *
 * @example
 * const suite = await loadSuite("examples/evals/passing.suite.yaml");
 */
export async function loadSuite(path: string): Promise<LoadedSuite> {
  const file = resolve(path);
  const ext = extname(file).toLowerCase();
  if ([".ts", ".mts", ".js", ".mjs"].includes(ext)) {
    if (!exists(file)) throw notFound(file);
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
    } catch (err) {
      throw new EvaluationError(
        "REIN_EVAL_SUITE_INVALID",
        `${file}: the suite module failed to load: ${(err as Error).message}`,
        { file },
      );
    }
    if (mod.default === undefined)
      throw new EvaluationError(
        "REIN_EVAL_SUITE_INVALID",
        `${file}: the module has no default export; export default defineSuite({...})`,
        { file },
      );
    return validateSuite(mod.default, file);
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") throw notFound(file);
    throw new EvaluationError("REIN_EVAL_SUITE_INVALID", `${file}: cannot read: ${(err as Error).message}`, {
      file,
    });
  }
  return parseSuiteText(text, file);
}

function notFound(file: string): EvaluationError {
  return new EvaluationError("REIN_EVAL_SUITE_NOT_FOUND", `Suite file not found: ${file}`, { file });
}

function exists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Parses YAML (or JSON, which is YAML) suite text; `file` names it in errors and anchors relative paths. */
export async function parseSuiteText(text: string, file: string): Promise<LoadedSuite> {
  const { LineCounter, parseDocument } = await import("yaml");
  const lineCounter = new LineCounter();
  const doc = parseDocument(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, { lineCounter });
  const syntax = doc.errors[0];
  if (syntax) {
    const line = syntax.linePos?.[0].line;
    throw new EvaluationError(
      "REIN_EVAL_SUITE_INVALID",
      `${where(file, line)}: YAML syntax error: ${syntax.message.split(" at line ")[0]}`,
      { file, ...(line === undefined ? {} : { line }) },
    );
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    throw new EvaluationError("REIN_EVAL_SUITE_INVALID", `${file}: ${(err as Error).message}`, { file });
  }
  return validateSuite(value, file, { doc, lineCounter });
}

interface SourceMap {
  readonly doc: Document;
  readonly lineCounter: LineCounter;
}

/**
 * Validates a suite object (a TypeScript suite's default export, or parsed YAML). Relative paths
 * resolve against `file`'s folder (the working directory for `<inline>`).
 */
export function validateSuite(value: unknown, file = "<inline>", map?: SourceMap): LoadedSuite {
  if (value === null || value === undefined || typeof value !== "object")
    throw new EvaluationError(
      "REIN_EVAL_SUITE_INVALID",
      `${file}: the suite is empty or not an object; it needs "name" and "cases"`,
      { file },
    );
  const result = suiteSchema.safeParse(value);
  if (!result.success) throw invalid(result.error.issues, value, file, map);
  const base = file === "<inline>" ? process.cwd() : dirname(file);
  const suite = result.data;
  const harness = anchorHarness(suite.harness, base);
  const cases = suite.cases.map((c, i) => {
    const fixture = c.fixture === undefined ? undefined : resolve(base, c.fixture);
    if (fixture !== undefined) {
      let isDir = false;
      try {
        isDir = statSync(fixture).isDirectory();
      } catch {}
      if (!isDir) {
        const line = map ? lineOf(map, ["cases", i, "fixture"]) : undefined;
        throw new EvaluationError(
          "REIN_EVAL_SUITE_INVALID",
          `${where(file, line)}: case "${c.id}", field "fixture": ${fixture} is not a directory`,
          { file, case: c.id, field: "fixture", ...(line === undefined ? {} : { line }) },
        );
      }
    }
    return {
      ...c,
      ...(fixture ? { fixture } : {}),
      ...(c.harness ? { harness: anchorHarness(c.harness, base) } : {}),
    };
  });
  return { ...suite, harness, cases, file };
}

/** `scripted:./x.yaml` and policy paths, relative to the suite's folder. Bundled script names stay as they are. */
function anchorHarness(h: HarnessSpec, base: string): HarnessSpec {
  const out: HarnessSpec = { ...h };
  if (typeof h.model === "string" && h.model.startsWith("scripted:")) {
    const name = h.model.slice("scripted:".length);
    if (/[/\\]/.test(name) || /\.(ya?ml|json)$/i.test(name))
      out.model = `scripted:${isAbsolute(name) ? name : resolve(base, name)}`;
  }
  if (h.policy !== undefined) out.policy = resolve(base, h.policy);
  return out;
}

function invalid(
  issues: readonly z.core.$ZodIssue[],
  value: unknown,
  file: string,
  map: SourceMap | undefined,
): EvaluationError {
  const located = issues.flatMap((issue) => {
    const paths =
      issue.code === "unrecognized_keys" ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
    return paths.map((path) => {
      const message = issue.code === "unrecognized_keys" ? "unknown field" : messageOf(issue, value);
      let caseId: string | undefined;
      let rest = path;
      if (path[0] === "cases" && typeof path[1] === "number") {
        const c = (value as { cases?: unknown[] }).cases?.[path[1]] as { id?: unknown } | undefined;
        caseId = typeof c?.id === "string" ? c.id : `#${path[1] + 1}`;
        rest = path.slice(2);
      }
      const field = rest.length > 0 ? formatIssuePath(rest) : undefined;
      const line = map ? lineOf(map, path, issue.code === "unrecognized_keys") : undefined;
      return { caseId, field, line, message };
    });
  });
  if (map) located.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  const lines = located.map((p) => {
    const subject =
      p.caseId !== undefined
        ? `case "${p.caseId}"${p.field ? `, field "${p.field}"` : ""}`
        : p.field
          ? `field "${p.field}"`
          : "the suite";
    return `${where(file, p.line)}: ${subject}: ${p.message}`;
  });
  const first = located[0]!;
  return new EvaluationError("REIN_EVAL_SUITE_INVALID", lines.join("\n"), {
    file,
    ...(first.caseId !== undefined ? { case: first.caseId } : {}),
    ...(first.field !== undefined ? { field: first.field } : {}),
    ...(first.line !== undefined ? { line: first.line } : {}),
  });
}

function messageOf(issue: z.core.$ZodIssue, root: unknown): string {
  if (issue.code === "invalid_type") {
    let v: unknown = root;
    for (const k of issue.path)
      v = v === null || typeof v !== "object" ? undefined : (v as Record<PropertyKey, unknown>)[k];
    if (v === undefined) return `missing; expected ${issue.expected}`;
  }
  return issue.message;
}

function where(file: string, line: number | undefined): string {
  return line === undefined ? file : `${file}:${line}`;
}

/** The line of the node at `path`, or of its nearest existing ancestor. */
function lineOf(
  { doc, lineCounter }: SourceMap,
  path: readonly PropertyKey[],
  isKey = false,
): number | undefined {
  let node: unknown = doc.contents;
  let found: unknown = node;
  for (const [i, segment] of path.entries()) {
    const items = (node as { items?: unknown[] } | null)?.items;
    if (!Array.isArray(items)) break;
    let next: unknown;
    if (typeof segment === "number") next = items[segment];
    else {
      const pair = items.find(
        (p) => String((p as { key?: { value?: unknown } }).key?.value) === String(segment),
      ) as { value?: unknown; key?: unknown } | undefined;
      next = pair ? (isKey && i === path.length - 1 ? pair.key : (pair.value ?? pair.key)) : undefined;
    }
    if (!next || !Array.isArray((next as { range?: unknown }).range)) break;
    node = found = next;
  }
  const range = (found as { range?: [number, number, number] } | null)?.range;
  return range ? lineCounter.linePos(range[0]).line : undefined;
}
