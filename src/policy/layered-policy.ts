/**
 * Layering: built-in defaults < project file < explicit config. A later layer's rule may raise a
 * level freely, lower a LOW/MEDIUM/HIGH one, and lower a BLOCK only with an explicit `override`
 * (with a reason) — and that loosening is recorded (in the verdict's rule and reason, which the
 * audit trail keeps, and through `onOverride`).
 */
import { posix } from "node:path";
import { type RiskLevel, riskRank } from "../protocol/risk.js";
import { globMatcher } from "./glob.js";
import type { PathVerdict } from "./path-rules.js";
import { type PolicyLayer, type PolicyRule, ruleLevel } from "./policy-file.js";
import { absoluteGlob } from "./sensitive-paths.js";

/** What a rule is matched against. */
export interface RuleSubject {
  readonly tool: string;
  /** For a shell command: the program that runs, and the wrappers it went through. */
  readonly command?: {
    readonly name: string | null;
    readonly via: readonly string[];
    /** All the command's words (wrappers included); `args` patterns match what follows the matched name. */
    readonly argv: readonly (string | null)[];
  };
  readonly paths: readonly PathVerdict[];
}

/** A verdict before and after the layers. */
export interface Judged {
  readonly level: RiskLevel;
  readonly reason: string;
  readonly rule: string;
}

/** A BLOCK loosened by a rule's `override`. */
export interface OverrideRecord {
  readonly layer: string;
  readonly file: string;
  readonly ruleId: string;
  readonly line: number | undefined;
  readonly reason: string;
  /** The BLOCK it loosened. */
  readonly was: Judged;
  readonly now: RiskLevel;
}

interface CompiledRule {
  readonly layer: PolicyLayer;
  readonly rule: PolicyRule;
  readonly level: RiskLevel;
  readonly tools: ReadonlySet<string> | null;
  readonly commands: ReadonlySet<string> | null;
  readonly args: readonly ((arg: string | null) => boolean)[] | null;
  readonly argsRaw: readonly string[] | null;
  readonly path: ((p: string) => boolean) | null;
}

const list = (v: string | readonly string[] | undefined) =>
  v === undefined ? null : typeof v === "string" ? [v] : v;

/** The rules of every layer, compiled once, applied in layer order. */
export class LayeredRules {
  readonly #rules: CompiledRule[][];
  readonly layers: readonly PolicyLayer[];

  constructor(layers: readonly PolicyLayer[], where: { home: string; workspace: string | null }) {
    this.layers = layers;
    this.#rules = layers.map((layer) =>
      layer.document.rules.map((rule) => {
        const paths = list(rule.match.path);
        const argsRaw = rule.match.args ?? null;
        return {
          layer,
          rule,
          level: ruleLevel(rule),
          tools: list(rule.match.tool) ? new Set(list(rule.match.tool)) : null,
          commands: list(rule.match.command) ? new Set(list(rule.match.command)) : null,
          argsRaw,
          args: argsRaw
            ? argsRaw.map((p) => {
                if (p === "**") return () => true;
                const m = globMatcher(p, { dot: true });
                return (a: string | null) => a !== null && m(a);
              })
            : null,
          path: paths
            ? globMatcher(
                paths.map((g) => absoluteGlob(g, where)),
                { dot: true },
              )
            : null,
        } satisfies CompiledRule;
      }),
    );
  }

  /** The level a tool is given by the `tools:` sections (last layer wins), if any. */
  toolLevel(tool: string): Judged | undefined {
    let found: Judged | undefined;
    for (const layer of this.layers) {
      const entry = layer.document.tools[tool];
      if (entry === undefined) continue;
      found =
        typeof entry === "string"
          ? {
              level: entry,
              reason: `the policy sets ${tool} to ${entry}`,
              rule: `policy:${layer.name}:tools.${tool}`,
            }
          : { level: entry.level, reason: entry.reason, rule: `policy:${layer.name}:tools.${tool}` };
    }
    return found;
  }

  /**
   * Applies each layer's first matching rule to `verdict`, in layer order. `shell` says the subject
   * is one parsed shell command (rules with `command`/`args` only ever match those).
   */
  apply(verdict: Judged, subject: RuleSubject, onOverride?: (o: OverrideRecord) => void): Judged {
    let current = verdict;
    for (const rules of this.#rules) {
      const match = rules.find((r) => matches(r, subject));
      if (!match) continue;
      const { rule, layer, level } = match;
      const id = `policy:${layer.name}:${rule.id}`;
      if (riskRank(level) >= riskRank(current.level)) {
        current = { level, reason: rule.reason, rule: id };
      } else if (current.level !== "BLOCK") {
        current = { level, reason: `${rule.reason} (was ${current.level}: ${current.reason})`, rule: id };
      } else if (rule.override) {
        const record: OverrideRecord = {
          layer: layer.name,
          file: layer.file,
          ruleId: rule.id,
          line: layer.lines.get(rule.id),
          reason: rule.override.reason,
          was: current,
          now: level,
        };
        onOverride?.(record);
        current = {
          level,
          reason: `${rule.reason}; OVERRIDE of BLOCK (${current.rule}: ${current.reason}) because: ${rule.override.reason}`,
          rule: `override:${layer.name}:${rule.id}`,
        };
      } else {
        current = {
          ...current,
          reason: `${current.reason} (rule ${rule.id} of ${layer.file} would allow it, but a BLOCK is only loosened by an explicit override with a reason)`,
        };
      }
    }
    return current;
  }
}

function matches(r: CompiledRule, s: RuleSubject): boolean {
  if (r.tools && !r.tools.has(s.tool)) return false;
  if (r.commands || r.args) {
    if (!s.command) return false;
    const { name, via, argv } = s.command;
    const candidates = [name, ...via].filter(
      (n): n is string => n !== null && (r.commands?.has(n) ?? n === name),
    );
    if (candidates.length === 0) return false;
    if (r.args && !candidates.some((n) => argsMatch(r.args ?? [], r.argsRaw ?? [], argsAfter(argv, n))))
      return false;
  }
  if (r.path) {
    const access = r.rule.match.access;
    const want = r.path;
    if (!s.paths.some((p) => (access === undefined || p.access === access) && want(p.absolute))) return false;
  }
  return true;
}

/** Anchored argv pattern: each entry matches one argument (a glob), `**` any number of them. */
function argsMatch(
  pattern: readonly ((a: string | null) => boolean)[],
  raw: readonly string[],
  args: readonly (string | null)[],
): boolean {
  const go = (pi: number, ai: number): boolean => {
    if (pi === pattern.length) return ai === args.length;
    if (raw[pi] === "**") {
      for (let k = ai; k <= args.length; k++) if (go(pi + 1, k)) return true;
      return false;
    }
    return (
      ai < args.length &&
      (pattern[pi] as (a: string | null) => boolean)(args[ai] ?? null) &&
      go(pi + 1, ai + 1)
    );
  };
  return go(0, 0);
}

/** The arguments after the program name in a command's words. */
export function argsAfter(argv: readonly (string | null)[], name: string | null): readonly (string | null)[] {
  if (name === null) return argv.slice(1);
  const i = argv.findIndex((w) => w !== null && (w === name || posix.basename(w) === name));
  return i === -1 ? argv.slice(1) : argv.slice(i + 1);
}
