/**
 * The policy file, `rein.policy.yaml`, and the same document as a typed object. Rules match parsed
 * commands (the program that really runs, after wrappers), argv patterns and paths — never raw
 * strings. Errors name the file, the line and the rule.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Document, LineCounter, Node } from "yaml";
import { z } from "zod/v4";
import { PolicyError } from "../protocol/errors.js";
import { RISK_LEVELS, type RiskLevel } from "../protocol/risk.js";

type YamlModule = typeof import("yaml");
let yamlModule: YamlModule | undefined;

/** The YAML parser, loaded on first use (`import "rein"` stays light); synchronous, as yaml ships CommonJS. */
function yaml(): YamlModule {
  yamlModule ??= createRequire(import.meta.url)("yaml") as YamlModule;
  return yamlModule;
}

const Level = z.enum(RISK_LEVELS);
const OneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/** An example call: a string is a `run_shell` command; an object names the tool and its input. */
const Example = z.union([
  z.string().min(1),
  z.strictObject({ tool: z.string().min(1), input: z.record(z.string(), z.unknown()) }),
]);

const RuleSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "use letters, digits, '.', '_' or '-' (e.g. no-npm-publish)"),
    /** allow → LOW, ask → HIGH (needs approval), deny → BLOCK; or give `level` directly. */
    decision: z.enum(["allow", "ask", "deny"]).optional(),
    level: Level.optional(),
    reason: z.string().min(1),
    match: z
      .strictObject({
        tool: OneOrMany.optional(),
        command: OneOrMany.optional(),
        args: z.array(z.string()).optional(),
        path: OneOrMany.optional(),
        access: z.enum(["read", "write"]).optional(),
      })
      .refine((m) => Object.keys(m).length > 0, "match needs at least one of tool, command, args, path"),
    examples: z
      .strictObject({ allow: z.array(Example).default([]), deny: z.array(Example).default([]) })
      .optional(),
    /** Required to loosen a BLOCK; the reason is recorded with every call it loosens. */
    override: z.strictObject({ reason: z.string().min(1) }).optional(),
  })
  .refine((r) => (r.decision === undefined) !== (r.level === undefined), {
    message: "give exactly one of decision (allow | ask | deny) or level (LOW | MEDIUM | HIGH | BLOCK)",
  })
  .refine((r) => r.match.args === undefined || r.match.command !== undefined, {
    message: "match.args needs match.command (the program the arguments belong to)",
  });

export const PolicyDocumentSchema = z.strictObject({
  version: z.literal(1).default(1),
  /** Per-tool levels: replaces a tool's own profile; for analysed tools (run_shell, file tools) a minimum. */
  tools: z
    .record(z.string().min(1), z.union([Level, z.strictObject({ level: Level, reason: z.string().min(1) })]))
    .default({}),
  rules: z.array(RuleSchema).default([]),
});

/** A policy document as written (rein.policy.yaml, or an object in code). */
export type PolicyDocumentInput = z.input<typeof PolicyDocumentSchema>;
export type PolicyDocument = z.output<typeof PolicyDocumentSchema>;
export type PolicyRule = PolicyDocument["rules"][number];
export type PolicyExample = z.output<typeof Example>;

/** One layer of policy: a validated document, where it came from, and each rule's line. */
export interface PolicyLayer {
  /** `project` (the workspace's rein.policy.yaml) or `config` (explicit configuration). */
  readonly name: string;
  /** The file it was read from, or `<inline>`. */
  readonly file: string;
  readonly document: PolicyDocument;
  /** Rule id → line in the file (1-based), when known. */
  readonly lines: ReadonlyMap<string, number>;
}

/** The level a rule sets. */
export function ruleLevel(rule: PolicyRule): RiskLevel {
  if (rule.level) return rule.level;
  return rule.decision === "allow" ? "LOW" : rule.decision === "ask" ? "HIGH" : "BLOCK";
}

/**
 * Reads and validates a policy file. Errors (`REIN_POLICY_INVALID`) name the file, line and rule.
 *
 * @example
 * const layer = loadPolicyFile("rein.policy.yaml");
 */
export function loadPolicyFile(file: string, name = "project"): PolicyLayer {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new PolicyError(
      "REIN_POLICY_INVALID",
      `${file}: cannot read the policy file: ${(err as Error).message}`,
      {
        file,
      },
    );
  }
  return parsePolicyText(text, file, name);
}

/** Parses policy YAML (or JSON) text; `file` is only used in messages. */
export function parsePolicyText(text: string, file: string, name = "project"): PolicyLayer {
  const { LineCounter: Lines, parseDocument } = yaml();
  const lineCounter = new Lines();
  const doc = parseDocument(text, { lineCounter });
  const syntax = doc.errors[0];
  if (syntax) {
    const line = syntax.linePos?.[0].line;
    throw new PolicyError(
      "REIN_POLICY_INVALID",
      `${file}${line ? `:${line}` : ""}: YAML syntax error: ${syntax.message.split(" at line ")[0]}`,
      { file, ...(line ? { line } : {}) },
    );
  }
  let value: unknown;
  try {
    value = doc.toJS() ?? {};
  } catch (err) {
    throw new PolicyError("REIN_POLICY_INVALID", `${file}: ${(err as Error).message}`, { file });
  }
  const lineOf = (path: readonly PropertyKey[]) => nodeLine(doc.contents, path, doc, lineCounter);
  const layer = validatePolicy(value, file, name, lineOf);
  return layer;
}

/**
 * Validates a policy object (the typed form of rein.policy.yaml).
 *
 * @example
 * const layer = policyLayer({ rules: [{ id: "no-publish", decision: "deny", reason: "releases are manual", match: { command: "npm", args: ["publish", "**"] } }] });
 */
export function policyLayer(document: PolicyDocumentInput, name = "config", file = "<inline>"): PolicyLayer {
  return validatePolicy(document, file, name, () => undefined);
}

function validatePolicy(
  value: unknown,
  file: string,
  name: string,
  lineOf: (path: readonly PropertyKey[]) => number | undefined,
): PolicyLayer {
  const parsed = PolicyDocumentSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    const path = issue.path;
    const line = lineOf(path);
    const ruleIndex = path[0] === "rules" && typeof path[1] === "number" ? path[1] : undefined;
    const rawRules = (value as { rules?: unknown } | null)?.rules;
    const ruleId =
      ruleIndex !== undefined && Array.isArray(rawRules)
        ? String((rawRules[ruleIndex] as { id?: unknown } | undefined)?.id ?? `#${ruleIndex + 1}`)
        : undefined;
    const field = (ruleIndex !== undefined ? path.slice(2) : path).map(String).join(".");
    const where = `${file}${line ? `:${line}` : ""}`;
    const what = ruleId
      ? `rule "${ruleId}"${field ? `, field "${field}"` : ""}`
      : `field "${field || "(root)"}"`;
    throw new PolicyError("REIN_POLICY_INVALID", `${where}: ${what}: ${issue.message}`, {
      file,
      ...(line ? { line } : {}),
      ...(ruleId ? { rule: ruleId } : {}),
    });
  }
  const lines = new Map<string, number>();
  const seen = new Set<string>();
  parsed.data.rules.forEach((rule, i) => {
    const line = lineOf(["rules", i]);
    if (seen.has(rule.id)) {
      throw new PolicyError(
        "REIN_POLICY_INVALID",
        `${file}${line ? `:${line}` : ""}: rule "${rule.id}": two rules have this id; ids must be unique`,
        { file, rule: rule.id, ...(line ? { line } : {}) },
      );
    }
    seen.add(rule.id);
    if (line) lines.set(rule.id, line);
  });
  return { name, file, document: parsed.data, lines };
}

function nodeLine(
  root: unknown,
  path: readonly PropertyKey[],
  doc: Document,
  lineCounter: LineCounter,
): number | undefined {
  const { isAlias, isMap, isScalar, isSeq } = yaml();
  let node: unknown = root;
  let found: unknown = root;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    if (isMap(node))
      next = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment))?.value;
    else if (isSeq(node) && typeof segment === "number") next = node.items[segment];
    if (!hasRange(next)) break;
    node = found = next;
  }
  return hasRange(found) ? lineCounter.linePos(found.range[0]).line : undefined;
}

function hasRange(node: unknown): node is Node & { range: [number, number, number] } {
  return typeof node === "object" && node !== null && Array.isArray((node as Node).range);
}
