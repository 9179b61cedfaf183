import { createRequire } from "node:module";
import { SecurityError } from "../protocol/errors.js";

/**
 * Linear-time regular expressions for untrusted text. Tool output is attacker-controlled, and V8's
 * backtracking engine can take exponential time on a crafted input; RE2 cannot (automata, no
 * backtracking, no look-around or back-references). Two engines implement RE2's semantics:
 * `re2` (Google's C++ RE2 through a native addon, fastest) and `re2js` (RE2 ported to JavaScript,
 * no native build). `auto` takes `re2` when its addon loads in this Node, else `re2js`.
 */
export type RegexEngineName = "re2" | "re2js";

export interface LinearMatch {
  /** Start and end (UTF-16 offsets) of the selected capture group. */
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

export interface LinearRegex {
  /** Every non-overlapping match, left to right, reporting capture `group` (0 = the whole match). */
  matches(text: string, group: number): LinearMatch[];
}

export interface RegexEngine {
  readonly name: RegexEngineName;
  compile(source: string, options: { readonly ignoreCase: boolean }): LinearRegex;
  /**
   * A matcher for many literals at once (case-insensitive): which of them occur in a text. The
   * prefilter in front of the rules; one pass over the text whatever the number of literals.
   */
  literals(words: readonly string[]): (text: string) => readonly number[];
}

const escapeLiteral = (w: string) => w.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");

/** The portable literal matcher: lower-case once, then one `includes` per literal. */
function includesLiterals(words: readonly string[]): (text: string) => readonly number[] {
  const lower = words.map((w) => w.toLowerCase());
  return (text) => {
    const t = text.toLowerCase();
    const out: number[] = [];
    lower.forEach((w, i) => {
      if (t.includes(w)) out.push(i);
    });
    return out;
  };
}

const require = createRequire(import.meta.url);

interface Re2Instance {
  lastIndex: number;
  test(text: string): boolean;
  replace(text: string, replacer: (...args: unknown[]) => string): string;
}
type Re2Ctor = (new (
  source: string,
  flags: string,
) => Re2Instance) & {
  Set: new (sources: readonly string[], flags: string) => { match(input: string): number[] };
};

function re2Engine(): RegexEngine {
  const RE2 = require("re2") as Re2Ctor;
  return {
    name: "re2",
    literals(words) {
      const set = new RE2.Set(words.map(escapeLiteral), "iu");
      return (text) => set.match(text);
    },
    compile(source, { ignoreCase }) {
      const re = new RE2(source, ignoreCase ? "giu" : "gu");
      return {
        matches(text, group) {
          const out: LinearMatch[] = [];
          // Most texts match no rule: test() answers without building replace()'s copy of the text.
          // (A global regex's test() starts at lastIndex: always from 0 here.)
          re.lastIndex = 0;
          if (!re.test(text)) return out;
          re.lastIndex = 0;
          // replace() walks every match in one native loop (~2 µs a match; exec() costs ~20 µs a call)
          // and reports UTF-16 offsets. It does not give a group's offset: the rules keep each secret
          // group at the end of its match, followed by at most one character of another class, so
          // the last occurrence of the group's text in the match is the group (tests check every rule).
          re.replace(text, (...args: unknown[]) => {
            const match = args[0] as string;
            const offset = args[args.length - 2] as number;
            const g = group === 0 ? match : (args[group] as string | undefined);
            if (typeof g === "string") {
              const start = offset + (group === 0 ? 0 : match.lastIndexOf(g));
              out.push({ start, end: start + g.length, text: g });
            }
            return match;
          });
          return out;
        },
      };
    },
  };
}

interface Re2jsMatcher {
  find(): boolean;
  start(group?: number): number;
  end(group?: number): number;
  group(group?: number): string | null;
}
interface Re2jsModule {
  RE2JS: {
    CASE_INSENSITIVE: number;
    compile(source: string, flags?: number): { matcher(text: string): Re2jsMatcher };
  };
}

function re2jsEngine(): RegexEngine {
  const { RE2JS } = require("re2js") as Re2jsModule;
  return {
    name: "re2js",
    literals: includesLiterals,
    compile(source, { ignoreCase }) {
      const re = RE2JS.compile(source, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
      return {
        matches(text, group) {
          const out: LinearMatch[] = [];
          const m = re.matcher(text);
          while (m.find()) {
            const start = m.start(group);
            if (start >= 0) out.push({ start, end: m.end(group), text: m.group(group) ?? "" });
          }
          return out;
        },
      };
    },
  };
}

const loaded = new Map<RegexEngineName, RegexEngine>();
let autoFailure: string | undefined;

/**
 * The linear-time engine to use. `auto` (the default) prefers the native `re2` and falls back to
 * `re2js` when the addon is missing or was built for another Node; asking for one by name fails with
 * `REIN_REGEX_ENGINE_UNAVAILABLE` when it cannot load.
 *
 * @example
 * const engine = loadRegexEngine(); // engine.name is "re2" or "re2js"
 */
export function loadRegexEngine(wanted: RegexEngineName | "auto" = "auto"): RegexEngine {
  const order: RegexEngineName[] = wanted === "auto" ? ["re2", "re2js"] : [wanted];
  const failures: string[] = [];
  for (const name of order) {
    const cached = loaded.get(name);
    if (cached) return cached;
    try {
      const engine = name === "re2" ? re2Engine() : re2jsEngine();
      // Load-time check: a stale addon can load and still misbehave.
      const probe = engine.compile("a(b+)", { ignoreCase: true }).matches("xABb", 1);
      if (probe.length !== 1 || probe[0]!.start !== 2 || probe[0]!.end !== 4)
        throw new Error("self-test failed");
      loaded.set(name, engine);
      if (failures.length > 0) autoFailure = failures.join("; ");
      return engine;
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  throw new SecurityError(
    "REIN_REGEX_ENGINE_UNAVAILABLE",
    `No linear-time regex engine could be loaded (${failures.join("; ")}). Reinstall dependencies (npm ci).`,
    { wanted },
  );
}

/** Why `auto` did not get the native engine, if it did not (for diagnostics). */
export function regexEngineFallbackReason(): string | undefined {
  return autoFailure;
}
