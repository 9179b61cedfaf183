import type { RiskLevel } from "../protocol/risk.js";
import type { EgressPolicy } from "./egress-policy.js";
import type { PathRules, PathVerdict } from "./path-rules.js";
import type { ShellWord } from "./shell-words.js";

/** One reason a command has its level. */
export interface Finding {
  readonly level: RiskLevel;
  readonly reason: string;
  readonly rule: string;
}

/** What a command handler (command-catalog.ts) sees and can say about one command. */
export interface CommandContext {
  /** The effective command name (after wrappers and path stripping). */
  readonly name: string;
  /** The arguments after the name. */
  readonly args: readonly ShellWord[];
  /** The command also receives arguments only known at run time (`xargs cmd`, `find -exec cmd {}`). */
  readonly unknownArgs: boolean;
  readonly paths: PathRules;
  readonly egress: EgressPolicy;
  add(level: RiskLevel, reason: string, rule: string): void;
  /** Judges a path the command reads or writes; a run-time path is judged unknown. */
  touch(word: ShellWord | string, access: "read" | "write"): PathVerdict | null;
  /** Judges a URL (or host) the command connects to. */
  url(text: string): void;
  /** Analyses another command line the command runs (`sh -c`, `eval`, `find -exec`, `xargs`). */
  nested(argv: readonly ShellWord[], how: string, unknownArgs?: boolean): void;
  /** Analyses a script given as text (`sh -c '…'`, `eval '…'`). */
  script(source: string, how: string): void;
  /** Where the command's stdin comes from, for interpreters: what the upstream pipeline stages are. */
  stdinSource(): StdinSource;
  /** Where a run-time word (`<(…)`, `$(…)`, `$x`) gets its value from. */
  sourceOf(word: ShellWord): StdinSource;
}

export type StdinSource =
  | { readonly kind: "terminal" }
  | { readonly kind: "static"; readonly text: string; readonly from: string }
  | { readonly kind: "remote"; readonly from: string }
  | { readonly kind: "decoded"; readonly from: string }
  | { readonly kind: "other"; readonly from: string };

/** A word's value, or null when it expands at run time. */
export function wordValue(word: ShellWord | undefined): string | null {
  return word?.value ?? null;
}

/** Splits options from operands (after `--` everything is an operand). */
export function operands(args: readonly ShellWord[]): ShellWord[] {
  const out: ShellWord[] = [];
  let ended = false;
  for (const a of args) {
    if (!ended && a.value === "--") {
      ended = true;
      continue;
    }
    if (!ended && a.value !== null && a.value.startsWith("-") && a.value !== "-") continue;
    out.push(a);
  }
  return out;
}

/** Short flags present (`-rf` → r, f) and long flags, before `--`. */
export function flags(args: readonly ShellWord[]): Set<string> {
  const set = new Set<string>();
  for (const a of args) {
    const v = a.value;
    if (v === null) continue;
    if (v === "--") break;
    if (v.startsWith("--")) set.add(v.split("=")[0] as string);
    else if (v.startsWith("-") && v.length > 1) for (const c of v.slice(1)) set.add(c);
  }
  return set;
}

/** The value of an option given as `--opt value`, `--opt=value` or `-o value` / `-ovalue`. */
export function optionValues(args: readonly ShellWord[], names: readonly string[]): ShellWord[] {
  const out: ShellWord[] = [];
  for (let i = 0; i < args.length; i++) {
    const v = args[i]?.value;
    if (v === null || v === undefined) continue;
    if (v === "--") break;
    for (const n of names) {
      if (v === n) {
        const next = args[i + 1];
        if (next) out.push(next);
      } else if (n.startsWith("--") && v.startsWith(`${n}=`)) {
        out.push(wordOf(v.slice(n.length + 1), args[i] as ShellWord));
      } else if (
        !n.startsWith("--") &&
        n.length === 2 &&
        v.startsWith(n) &&
        v.length > 2 &&
        !v.startsWith("--")
      ) {
        out.push(wordOf(v.slice(2), args[i] as ShellWord));
      }
    }
  }
  return out;
}

/** A derived word (part of another word) keeping its origin's glob flag. */
export function wordOf(value: string, origin: ShellWord): ShellWord {
  return { ...origin, value, raw: value };
}

/** Splits a space-separated list of names (the catalog's tables). */
export const words = (list: string): string[] => list.split(" ");

/**
 * The finding for running code that comes from `source`: BLOCK when it was downloaded (remote code
 * execution) or decoded (an obfuscated command), otherwise `otherwise`.
 */
export function codeSourceFinding(who: string, source: StdinSource, otherwise: Finding): Finding {
  if (source.kind === "remote")
    return {
      level: "BLOCK",
      reason: `${who} runs code downloaded by ${source.from} (remote code execution)`,
      rule: "shell:remote-code-exec",
    };
  if (source.kind === "decoded")
    return {
      level: "BLOCK",
      reason: `${who} runs code decoded by ${source.from} (obfuscated command)`,
      rule: "shell:obfuscated-code-exec",
    };
  return otherwise;
}
