/**
 * Judges a shell command line: every simple command (in pipelines, lists, subshells, substitutions,
 * function bodies, `sh -c`/`eval`/`source` nesting, behind wrappers such as `sudo`, `env`, `xargs`,
 * `find -exec`) gets a verdict; the line's level is the highest of them. Anything the parser could
 * not fully understand, or a command name only known at run time, is at least HIGH (fail closed).
 */
import { type RiskLevel, riskRank } from "../protocol/risk.js";
import { COMMANDS } from "./command-catalog.js";
import type { Finding, StdinSource } from "./command-context.js";
import { CommandJudge, SHELLS } from "./command-judge.js";
import type { EgressPolicy } from "./egress-policy.js";
import type { PathRules, PathVerdict } from "./path-rules.js";
import type { ParsedShell, ShellParser, ShellProblem } from "./shell-parse.js";

export type { Finding } from "./command-context.js";

/** A URL a command reaches and what the egress policy said. */
export interface UrlVerdict {
  readonly url: string;
  readonly allowed: boolean;
  readonly reason: string;
  readonly rule: string;
}

/** The verdict on one simple command. */
export interface CommandVerdict {
  /** `3`, or `3/0` for the first command of a script nested in command 3 (`sh -c`, `eval`). */
  readonly id: string;
  readonly text: string;
  /** The words after quote removal (null: expands at run time). */
  readonly argv: readonly (string | null)[];
  /** The program that really runs, after wrappers (`sudo`, `env`, `timeout`, …) and `/bin/` prefixes. */
  readonly name: string | null;
  /** Wrappers the command went through, outermost first. */
  readonly via: readonly string[];
  readonly level: RiskLevel;
  readonly reason: string;
  readonly rule: string;
  readonly findings: readonly Finding[];
  readonly paths: readonly PathVerdict[];
  readonly urls: readonly UrlVerdict[];
  /** The command this one is nested in, if any. */
  readonly parent: string | null;
}

export interface ShellAnalysis {
  readonly level: RiskLevel;
  readonly reason: string;
  readonly rule: string;
  readonly commands: readonly CommandVerdict[];
  readonly problems: readonly ShellProblem[];
}

export interface ShellAnalysisEnv {
  readonly parser: ShellParser;
  readonly paths: PathRules;
  readonly egress: EgressPolicy;
  /** Applied to every command verdict, nested ones included (policy-file rules plug in here). */
  readonly adjust?: (verdict: CommandVerdict) => CommandVerdict;
}

export { MAX_NESTING } from "./shell-limits.js";

/** Analyses one command line. Parse problems make it at least HIGH. */
export function analyzeShell(source: string, env: ShellAnalysisEnv): ShellAnalysis {
  const commands: CommandVerdict[] = [];
  const problems: ShellProblem[] = [];
  new Analysis(env, commands, problems).run(source, 0, null);
  let top: { level: RiskLevel; reason: string; rule: string } = {
    level: "LOW",
    reason: "the command is empty",
    rule: "shell:empty",
  };
  if (problems.length > 0) {
    const p = problems[0] as ShellProblem;
    top = {
      level: "HIGH",
      reason: `the command could not be fully parsed (${p.message} at ${JSON.stringify(p.at)}); not understood means not trusted`,
      rule: "shell:parse-error",
    };
  }
  let placeholder = problems.length === 0;
  for (const c of commands) {
    if (placeholder || riskRank(c.level) > riskRank(top.level)) top = c;
    placeholder = false;
  }
  return { level: top.level, reason: top.reason, rule: top.rule, commands, problems };
}

export interface Pipelined {
  readonly pipeline: ParsedShell["pipelines"][number];
  readonly stage: number;
}

/** One analysis: the verdicts so far, shared by nested scripts. */
export class Analysis {
  recover(source: string, depth: number, parent: string | null): void {
    recoveryParts(source).forEach((part, i) => {
      const start = this.out.length;
      const problems = this.problems.length;
      this.run(part, depth, `${parent === null ? "" : `${parent}/`}recovered-${i}`, undefined, true);
      this.problems.length = problems; // the parts' own problems are the script's, already counted
      // Recovered parts only ever raise: keep those above HIGH (HIGH is the floor of a parse error).
      const kept = this.out.splice(start).filter((v) => riskRank(v.level) > riskRank("HIGH"));
      this.out.push(...kept);
    });
  }

  constructor(
    readonly env: ShellAnalysisEnv,
    readonly out: CommandVerdict[],
    readonly problems: ShellProblem[],
  ) {}

  run(
    source: string,
    depth: number,
    parent: string | null,
    inherited?: StdinSource,
    recovering = false,
  ): void {
    const parsed = this.env.parser.parse(source);
    this.problems.push(...parsed.problems);
    const stageOf = new Map<number, Pipelined>();
    for (const pipeline of parsed.pipelines) {
      pipeline.stages.forEach((ids, stage) => {
        for (const id of ids) if (!stageOf.has(id)) stageOf.set(id, { pipeline, stage });
      });
    }
    if (parsed.problems.length > 0 && !recovering) this.recover(source, depth, parent);
    const forkBombs = forkBombCalls(parsed);
    // A function named like a real command (`ls() { …; }`) changes what later commands mean.
    const shadows = new Map<number, string>();
    for (const [name, body] of parsed.functions) {
      if (COMMANDS.has(name) || SHELLS.has(name) || name === "cd" || name === "eval" || name === "source")
        for (const id of body) shadows.set(id, name);
    }
    for (const cmd of parsed.commands) {
      const id = parent === null ? String(cmd.id) : `${parent}/${cmd.id}`;
      const judge = new CommandJudge(this, parsed, cmd, id, depth, stageOf, inherited);
      const bomb = forkBombs.get(cmd.id);
      if (bomb) judge.add(bomb.level, bomb.reason, bomb.rule);
      const shadowed = shadows.get(cmd.id);
      if (shadowed)
        judge.add(
          "MEDIUM",
          `defines a function ${shadowed} that replaces the ${shadowed} command`,
          "shell:shadowed-command",
        );
      judge.judge();
      const verdict = judge.verdict(parent);
      this.out.push(this.env.adjust ? this.env.adjust(verdict) : verdict);
    }
  }
}

/**
 * A script with parse problems is at least HIGH. To make sure it is not *less* than what its parts
 * deserve (tree-sitter-bash misreads `[[ -d / ]] && rm -rf /`, for one), each line and each part
 * between `;`, `&&`, `||` and `|` is also judged on its own. This can only raise the level.
 */
function recoveryParts(source: string): string[] {
  return source
    .split(/&&|\|\||[;|\n&]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0 && s !== source.trim());
}

/** Calls of a recursive function that pipes or backgrounds itself (`:(){ :|:& };:`): BLOCK. */
function forkBombCalls(parsed: ParsedShell): Map<number, Finding> {
  const found = new Map<number, Finding>();
  for (const [name, body] of parsed.functions) {
    const bodySet = new Set(body);
    const recursive = body.some((id) => parsed.commands[id]?.argv[0]?.value === name);
    if (!recursive) continue;
    const spreads =
      body.some((id) => parsed.commands[id]?.background) ||
      parsed.pipelines.some((p) => p.stages.flat().some((id) => bodySet.has(id)));
    for (const cmd of parsed.commands) {
      if (bodySet.has(cmd.id) || cmd.argv[0]?.value !== name) continue;
      found.set(
        cmd.id,
        spreads
          ? {
              level: "BLOCK",
              reason: `${name} is a fork bomb (a function that multiplies itself)`,
              rule: "shell:fork-bomb",
            }
          : { level: "HIGH", reason: `${name} calls itself recursively`, rule: "shell:recursion" },
      );
    }
  }
  return found;
}

export { effectiveName } from "./command-judge.js";
