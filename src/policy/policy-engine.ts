import { homedir } from "node:os";
import { resolve } from "node:path";
import { PolicyError } from "../protocol/errors.js";
import { type RiskAssessment, type RiskLevel, type RiskProfile, riskRank } from "../protocol/risk.js";
import type { Finding } from "./command-context.js";
import { type EgressPolicy, privateAddressEgress } from "./egress-policy.js";
import { decisionOf, type Explanation } from "./explain.js";
import { type Judged, LayeredRules, type OverrideRecord } from "./layered-policy.js";
import { PathRules, type PathVerdict } from "./path-rules.js";
import type { Policy, PolicyCall } from "./policy.js";
import type { PolicyExample, PolicyLayer } from "./policy-file.js";
import { analyzeShell, type UrlVerdict } from "./shell-analysis.js";
import { loadShellParser, type ShellParser, shellParserIfLoaded } from "./shell-parse.js";

export interface PolicyEngineOptions {
  /** The workspace root; relative paths in calls resolve against it. */
  readonly workspace?: string | null;
  /** The home directory `~` means (default: the user's). */
  readonly home?: string;
  /** Policy layers above the built-in defaults, lowest first: the project file, then explicit config. */
  readonly layers?: readonly PolicyLayer[];
  /** Where URLs in arguments are checked (default: `privateAddressEgress`). */
  readonly egress?: EgressPolicy;
  /** Called each time an `override` loosens a BLOCK (it is also in the verdict's rule and reason). */
  readonly onOverride?: (record: OverrideRecord) => void;
}

/** Tools whose arguments the engine understands; others get their profile (or the policy's level). */
const READ_PATH_TOOLS = new Set(["read_file", "list_directory"]);
const WRITE_PATH_TOOLS = new Set(["write_file", "delete_file"]);
const SHELL_TOOL = "run_shell";
/** The built-in tools' own levels, for explaining a call without the tool object (the CLI). */
const BUILTIN_PROFILES: Readonly<Record<string, RiskProfile>> = {
  read_file: { level: "LOW", reason: "reads a file inside the workspace" },
  list_directory: { level: "LOW", reason: "lists a directory inside the workspace" },
  write_file: { level: "MEDIUM", reason: "creates or overwrites a file inside the workspace" },
  delete_file: { level: "HIGH", reason: "permanently deletes files inside the workspace" },
};
/** Input keys that name files, for tools the engine does not know. */
const PATH_KEY =
  /^(path|paths|file|files|filename|filepath|file_path|dir|directory|cwd|target|source|src|dest|destination)$/i;
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Rein's policy: argument-level rules for every tool call. Shell commands are parsed (tree-sitter
 * bash) and every simple command judged; paths are checked against the sensitive-path rules for
 * every tool; URLs go through the egress policy; policy-file rules apply in layers.
 * `classify` is synchronous once the shell parser is loaded (`createPolicyEngine` loads it; a bare
 * `new PolicyEngine()` loads it on the first shell call).
 *
 * @example
 * const policy = await createPolicyEngine({ workspace: "/home/me/project" });
 * policy.explain("run_shell", { command: "rm -rf ./*" }).level; // "HIGH"
 */
export class PolicyEngine implements Policy {
  readonly name = "rein";
  readonly #paths: PathRules;
  readonly #egress: EgressPolicy;
  readonly #rules: LayeredRules;
  readonly #onOverride: ((record: OverrideRecord) => void) | undefined;
  readonly #plain = new Map<string, RiskAssessment>();
  readonly #byTool = new WeakMap<PolicyCall["tool"], RiskAssessment>();

  constructor(options: PolicyEngineOptions = {}) {
    const workspace = options.workspace == null ? null : resolve(options.workspace);
    const home = options.home ?? homedir();
    this.#paths = new PathRules({ workspace, home });
    this.#egress = options.egress ?? privateAddressEgress;
    this.#rules = new LayeredRules(options.layers ?? [], { workspace, home });
    this.#onOverride = options.onOverride;
  }

  get layers(): readonly PolicyLayer[] {
    return this.#rules.layers;
  }

  classify(call: PolicyCall): RiskAssessment | Promise<RiskAssessment> {
    const { tool, input } = call;
    // Fast path: a tool the engine does not analyse, no policy layers, nothing path- or URL-like in
    // its input — its profile decides, and one frozen assessment per tool is reused.
    if (
      tool.name !== SHELL_TOOL &&
      !READ_PATH_TOOLS.has(tool.name) &&
      !WRITE_PATH_TOOLS.has(tool.name) &&
      this.#rules.layers.length === 0 &&
      !mayTouchPathsOrUrls(input, "", 0)
    ) {
      let cached = this.#byTool.get(tool);
      if (!cached) {
        cached = Object.freeze(
          tool.risk
            ? { level: tool.risk.level, reason: tool.risk.reason, rule: `tool-profile:${tool.name}` }
            : {
                level: "HIGH" as RiskLevel,
                reason: `tool "${tool.name}" declares no risk profile; unknown tools need approval`,
                rule: "default:undeclared-tool",
              },
        );
        this.#byTool.set(tool, cached);
      }
      return cached;
    }
    if (tool.name === SHELL_TOOL && !shellParserIfLoaded()) {
      return loadShellParser().then(() => this.#assess(tool.name, input, tool.risk));
    }
    return this.#assess(tool.name, input, tool.risk);
  }

  #assess(tool: string, input: unknown, profile: RiskProfile | undefined): RiskAssessment {
    const e = this.explain(tool, input, profile);
    // A tool judged by its profile alone (nothing in its input to check) gets one frozen assessment,
    // so the classify stage can reuse its record: the common case costs no allocation per call.
    if (e.paths.length === 0 && e.urls.length === 0 && e.overrides.length === 0 && e.commands === undefined) {
      const key = `${tool}\u0000${e.level}\u0000${e.rule}\u0000${e.reason}`;
      let cached = this.#plain.get(key);
      if (!cached) {
        cached = Object.freeze({ level: e.level, reason: e.reason, rule: e.rule });
        if (this.#plain.size < 1024) this.#plain.set(key, cached);
      }
      return cached;
    }
    return Object.freeze({ level: e.level, reason: e.reason, rule: e.rule });
  }

  /**
   * The level of one call and everything behind it. `profile` is the tool's own declared risk (unknown
   * tools without one are HIGH). Needs the shell parser loaded for `run_shell` (see `createPolicyEngine`).
   */
  explain(tool: string, input: unknown, profile?: RiskProfile): Explanation {
    const overrides: OverrideRecord[] = [];
    const onOverride = (o: OverrideRecord) => {
      overrides.push(o);
      this.#onOverride?.(o);
    };
    const paths: PathVerdict[] = [];
    const urls: UrlVerdict[] = [];
    const findings: Finding[] = [];
    let commands: Explanation["commands"];
    let problems: Explanation["problems"];
    const obj = typeof input === "object" && input !== null ? (input as Record<string, unknown>) : {};

    if (tool === SHELL_TOOL) {
      const command = obj.command;
      if (typeof command !== "string") {
        findings.push({
          level: "HIGH",
          reason: "run_shell without a command string",
          rule: "shell:parse-error",
        });
      } else {
        const parser = shellParserIfLoaded();
        if (!parser)
          throw new PolicyError(
            "REIN_POLICY_INVALID",
            "the shell parser is not loaded yet: use createPolicyEngine()",
            { file: "<engine>" },
          );
        const analysis = analyzeShell(command, {
          parser,
          paths: this.#paths,
          egress: this.#egress,
          adjust: (v) => {
            const judged = this.#rules.apply(
              v,
              { tool, command: { name: v.name, via: v.via, argv: v.argv }, paths: v.paths },
              onOverride,
            );
            return judged === v ? v : { ...v, ...judged };
          },
        });
        commands = analysis.commands;
        problems = analysis.problems;
        for (const c of commands) {
          paths.push(...c.paths);
          urls.push(...c.urls);
        }
        const label = command.length > 80 ? `${command.slice(0, 77)}...` : command;
        const problem = problems[0];
        if (problem) {
          findings.push({
            level: "HIGH",
            reason: `${label}: could not be fully parsed (${problem.message} at ${JSON.stringify(problem.at)}); not understood means not trusted`,
            rule: "shell:parse-error",
          });
        }
        let top: CommandVerdictLike | undefined;
        for (const c of commands) if (!top || riskRank(c.level) > riskRank(top.level)) top = c;
        if (top) findings.push({ level: top.level, reason: `${label}: ${top.reason}`, rule: top.rule });
        else if (problems.length === 0)
          findings.push({ level: "LOW", reason: "empty command", rule: "shell:empty" });
      }
      const cwd = obj.cwd;
      if (typeof cwd === "string") paths.push(this.#paths.judge(cwd, "read"));
    } else if (READ_PATH_TOOLS.has(tool) || WRITE_PATH_TOOLS.has(tool)) {
      const path = obj.path;
      const access = WRITE_PATH_TOOLS.has(tool) ? "write" : "read";
      if (typeof path !== "string") {
        findings.push({ level: "HIGH", reason: `${tool} without a path`, rule: "path:missing" });
      } else {
        const v = this.#paths.judge(path, access);
        paths.push(v);
        const what =
          tool === "delete_file" ? `deletes ${path}` : tool === "list_directory" ? `lists ${path}` : v.reason;
        findings.push({
          level: v.level,
          reason: v.level === "LOW" || v.level === "MEDIUM" ? what : v.reason,
          rule: v.rule,
        });
        // The tool's own level is the floor: delete_file stays HIGH (a deletion cannot be undone).
        const own = profile ?? BUILTIN_PROFILES[tool];
        if (own && riskRank(own.level) > riskRank(v.level))
          findings.push({ level: own.level, reason: `${what}: ${own.reason}`, rule: `tool-profile:${tool}` });
      }
    } else {
      const base =
        this.#rules.toolLevel(tool) ??
        (profile
          ? { level: profile.level, reason: profile.reason, rule: `tool-profile:${tool}` }
          : {
              level: "HIGH" as RiskLevel,
              reason: `tool "${tool}" declares no risk profile; unknown tools need approval`,
              rule: "default:undeclared-tool",
            });
      findings.push(base);
      this.#scanInput(input, paths, urls);
      for (const p of paths) if (p.level !== "LOW") findings.push(p);
    }
    for (const u of urls) {
      if (!u.allowed && tool !== SHELL_TOOL)
        findings.push({ level: "BLOCK", reason: `reaches ${u.url}: ${u.reason}`, rule: u.rule });
    }

    let verdict: Judged = findings[0] ?? {
      level: "HIGH",
      reason: "nothing to judge",
      rule: "default:fail-closed",
    };
    for (const f of findings) if (riskRank(f.level) > riskRank(verdict.level)) verdict = f;
    if (tool === SHELL_TOOL || READ_PATH_TOOLS.has(tool) || WRITE_PATH_TOOLS.has(tool)) {
      const floor = this.#rules.toolLevel(tool);
      if (floor && riskRank(floor.level) > riskRank(verdict.level)) verdict = floor;
    }
    // Call-level rules (tool and path matchers) apply to the whole call, after the per-command ones.
    // (Shell commands met the rules one by one in `adjust` above.)
    if (tool !== SHELL_TOOL) verdict = this.#rules.apply(verdict, { tool, paths }, onOverride);
    return {
      tool,
      level: verdict.level,
      decision: decisionOf(verdict.level),
      reason: verdict.reason,
      rule: verdict.rule,
      ...(commands ? { commands } : {}),
      ...(problems ? { problems } : {}),
      paths,
      urls,
      overrides,
    };
  }

  /** Paths under path-like keys and URLs anywhere in a tool's input (bounded). */
  #scanInput(input: unknown, paths: PathVerdict[], urls: UrlVerdict[]): void {
    let budget = 200;
    const visit = (value: unknown, key: string, depth: number) => {
      if (budget-- <= 0 || depth > 6) return;
      if (typeof value === "string") {
        if (URL_LIKE.test(value)) {
          try {
            const url = new URL(value);
            if (url.protocol === "file:") paths.push(this.#paths.judge(url.pathname, "read"));
            else {
              const v = this.#egress.check(url);
              urls.push({ url: url.href, allowed: v.allowed === true, reason: v.reason, rule: v.rule });
            }
          } catch {
            // not a URL after all
          }
        } else if (PATH_KEY.test(key) && value.length > 0) {
          paths.push(this.#paths.judge(value, "read"));
        }
      } else if (Array.isArray(value)) {
        for (const v of value) visit(v, key, depth + 1);
      } else if (typeof value === "object" && value !== null) {
        for (const [k, v] of Object.entries(value)) visit(v, k, depth + 1);
      }
    };
    visit(input, "", 0);
  }

  /**
   * Checks every inline example of every rule: `allow` examples must run without approval (LOW or
   * MEDIUM), `deny` examples must not (HIGH or BLOCK). Throws `REIN_POLICY_EXAMPLE_FAILED` naming the
   * file, line and rule; returns how many examples passed.
   */
  checkExamples(): number {
    let passed = 0;
    for (const failure of this.exampleResults()) {
      if (failure.ok) {
        passed++;
        continue;
      }
      throw new PolicyError("REIN_POLICY_EXAMPLE_FAILED", failure.message, {
        file: failure.file,
        rule: failure.rule,
        ...(failure.line ? { line: failure.line } : {}),
      });
    }
    return passed;
  }

  /** Every example of every rule with its outcome (what `rein policy test` prints). */
  exampleResults(): ExampleResult[] {
    const results: ExampleResult[] = [];
    for (const layer of this.#rules.layers) {
      for (const rule of layer.document.rules) {
        const line = layer.lines.get(rule.id);
        for (const expect of ["allow", "deny"] as const) {
          for (const example of rule.examples?.[expect] ?? []) {
            const { tool, input } = exampleCall(example);
            const e = this.explain(tool, input);
            const runs = e.level === "LOW" || e.level === "MEDIUM";
            const ok = expect === "allow" ? runs : !runs;
            const shown = typeof example === "string" ? example : JSON.stringify(example);
            results.push({
              ok,
              file: layer.file,
              line,
              rule: rule.id,
              expect,
              example: shown,
              level: e.level,
              matchedRule: e.rule,
              message: `${layer.file}${line ? `:${line}` : ""}: rule "${rule.id}": ${expect} example ${JSON.stringify(shown)} ${ok ? "passes" : `fails: it is ${e.level} (${e.rule}: ${e.reason}), but an ${expect} example must ${expect === "allow" ? "run without approval (LOW or MEDIUM)" : "not run without approval (HIGH or BLOCK)"}`}`,
            });
          }
        }
      }
    }
    return results;
  }
}

/** Whether an input holds a string the engine would check (under a path-like key, or URL-like). */
function mayTouchPathsOrUrls(value: unknown, key: string, depth: number): boolean {
  if (typeof value === "string") return URL_LIKE.test(value) || PATH_KEY.test(key);
  if (typeof value !== "object" || value === null) return false;
  if (depth > 6) return true;
  if (Array.isArray(value)) return value.some((v) => mayTouchPathsOrUrls(v, key, depth + 1));
  for (const k in value)
    if (mayTouchPathsOrUrls((value as Record<string, unknown>)[k], k, depth + 1)) return true;
  return false;
}

type CommandVerdictLike = { level: RiskLevel; reason: string; rule: string };

export interface ExampleResult {
  readonly ok: boolean;
  readonly file: string;
  readonly line: number | undefined;
  readonly rule: string;
  readonly expect: "allow" | "deny";
  readonly example: string;
  readonly level: RiskLevel;
  readonly matchedRule: string;
  readonly message: string;
}

function exampleCall(example: PolicyExample): { tool: string; input: unknown } {
  return typeof example === "string" ? { tool: SHELL_TOOL, input: { command: example } } : example;
}

/**
 * Builds a `PolicyEngine` with the shell parser loaded (so `classify` is synchronous) and every rule's
 * inline examples checked: a policy whose examples fail does not load.
 *
 * @example
 * const policy = await createPolicyEngine({ workspace: ".", layers: [loadPolicyFile("rein.policy.yaml")] });
 */
export async function createPolicyEngine(options: PolicyEngineOptions = {}): Promise<PolicyEngine> {
  await loadShellParser();
  const engine = new PolicyEngine(options);
  engine.checkExamples();
  return engine;
}

export type { ShellParser };
