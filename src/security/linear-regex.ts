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

/**
 * A text made ready for matching, once, by {@link RegexEngine.prepare}: the `re2` engine encodes it to
 * UTF-8 a single time for every rule and the prefilter (each call on a JavaScript string would encode
 * it again).
 */
export interface LinearText {
  readonly text: string;
  /** The text's bytes when it is ASCII (one byte per UTF-16 unit), if the engine made them. */
  readonly asciiBytes?: Uint8Array;
}

/**
 * Matches as parallel arrays (`starts[i]`, `ends[i]`, `texts[i]`): an adversarial text has tens of
 * thousands, and one object each would cost more than finding them.
 */
export interface MatchList {
  readonly starts: number[];
  readonly ends: number[];
  readonly texts: string[];
}

export interface LinearRegex {
  /**
   * Every non-overlapping match, left to right, reporting capture `group` (0 = the whole match). The
   * `re2` engine reports a match longer than {@link WHOLE_ABOVE} whole (more than its group).
   */
  matches(text: string | LinearText, group: number): LinearMatch[];
  /** The same matches as {@link LinearRegex.matches}, as parallel arrays. */
  list(text: string | LinearText, group: number): MatchList;
}

const emptyList = (): MatchList => ({ starts: [], ends: [], texts: [] });

function toMatches(list: MatchList): LinearMatch[] {
  return list.starts.map((start, i) => ({ start, end: list.ends[i]!, text: list.texts[i]! }));
}

export interface RegexEngine {
  readonly name: RegexEngineName;
  compile(source: string, options: { readonly ignoreCase: boolean }): LinearRegex;
  /** Prepares a text to be matched by several regexes (see {@link LinearText}). */
  prepare(text: string): LinearText;
  /**
   * A matcher for many literals at once (case-insensitive): which of them occur in a text. The
   * prefilter in front of the rules; one pass over the text whatever the number of literals.
   */
  literals(words: readonly string[]): (text: LinearText) => readonly number[];
}

const escapeLiteral = (w: string) => w.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");

/** The portable literal matcher: lower-case once, then one `includes` per literal. */
function includesLiterals(words: readonly string[]): (text: LinearText) => readonly number[] {
  const lower = words.map((w) => w.toLowerCase());
  return ({ text }) => {
    const t = text.toLowerCase();
    const out: number[] = [];
    lower.forEach((w, i) => {
      if (t.includes(w)) out.push(i);
    });
    return out;
  };
}

const require = createRequire(import.meta.url);

type Re2Input = string | Buffer;
interface Re2Instance {
  lastIndex: number;
  test(text: Re2Input): boolean;
  exec(text: string): (RegExpExecArray & { index: number }) | null;
  exec(text: Buffer): (Buffer[] & { index: number }) | null;
  replace(text: string, replacer: (...args: unknown[]) => string): string;
  replace(text: Buffer, replacer: Buffer): Buffer;
}
type Re2Ctor = (new (
  source: string,
  flags: string,
) => Re2Instance) & {
  Set: new (sources: readonly string[], flags: string) => { match(input: Re2Input): number[] };
};

/** The `re2` engine's prepared text: its UTF-8 bytes, and whether byte offsets are UTF-16 offsets. */
interface Utf8Text extends LinearText {
  readonly bytes: Buffer;
  readonly ascii: boolean;
}

function utf8Of(input: string | LinearText): Utf8Text {
  if (typeof input !== "string" && "bytes" in input) return input as Utf8Text;
  const text = typeof input === "string" ? input : input.text;
  // An ASCII text's UTF-8 is its Latin-1, which is copied rather than encoded (several times faster).
  const ascii = Buffer.byteLength(text, "utf8") === text.length;
  const bytes = Buffer.from(text, ascii ? "latin1" : "utf8");
  return ascii ? { text, bytes, ascii, asciiBytes: bytes } : { text, bytes, ascii };
}

function re2Engine(): RegexEngine {
  const RE2 = require("re2") as Re2Ctor;
  return {
    name: "re2",
    prepare: utf8Of,
    literals(words) {
      const set = new RE2.Set(words.map(escapeLiteral), "iu");
      return (text) => set.match(utf8Of(text).bytes);
    },
    compile(source, { ignoreCase }) {
      const flags = ignoreCase ? "giu" : "gu";
      const re = new RE2(source, flags);
      // The same pattern without capturing groups: RE2 finds matches several times faster when it
      // need not extract groups, and a template replacement calls no JavaScript per match.
      const bare = new RE2(withoutCaptures(source), flags);
      const single = new RE2(source, ignoreCase ? "iu" : "u");
      return {
        list(input, group) {
          const u = utf8Of(input);
          // Most texts match no rule: test() answers without building replace()'s copy of the text.
          // (A global regex's test() starts at lastIndex: always from 0 here.)
          return nativeMatches(bare, single, u, group) ?? callbackMatches(re, u.text, group);
        },
        matches(input, group) {
          return toMatches(this.list(input, group));
        },
      };
    },
  };
}

/**
 * Every match through one `replace()` call with a JavaScript callback. Exact, but each match costs a
 * callback and RE2's group extraction (~2–5 µs): the fallback of {@link markedMatches}.
 */
function callbackMatches(re: Re2Instance, text: string, group: number): MatchList {
  const out = emptyList();
  re.lastIndex = 0;
  // replace() reports UTF-16 offsets but not a group's offset: the rules keep each secret group at
  // the end of its match, followed by at most one character of another class, so the last
  // occurrence of the group's text in the match is the group (tests check every rule).
  re.replace(text, (...args: unknown[]) => {
    const match = args[0] as string;
    const offset = args[args.length - 2] as number;
    const g = group === 0 ? match : (args[group] as string | undefined);
    if (typeof g === "string") {
      const start = offset + (group === 0 ? 0 : match.lastIndexOf(g));
      out.starts.push(start);
      out.ends.push(start + g.length);
      out.texts.push(g);
    }
    return match;
  });
  return out;
}

/**
 * Byte sequences that bracket each match in the marked copy of a text. 0xC0 and 0xC1 never occur in
 * UTF-8 (they could only start an overlong encoding), and the text comes from `Buffer.from(string)`,
 * which writes valid UTF-8 only: a marker can only be one we inserted. Each is two bytes because
 * re2's template expansion copies a lead byte with the continuation bytes it announces.
 */
const MARK_OPEN = 0xc0;
const MARK_CLOSE = 0xc1;
const MARK_BYTES = 2;
const MARKED = Buffer.from([MARK_OPEN, 0x80, 0x24 /* $ */, 0x26 /* & */, MARK_CLOSE, 0x80]);

/**
 * `source` with every capturing group made non-capturing (`(x)` → `(?:x)`, `(?P<n>x)` → `(?:x)`);
 * escapes and character classes are copied as they are.
 */
export function withoutCaptures(source: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    if (ch === "\\") {
      out += ch + (source[i + 1] ?? "");
      i++;
    } else if (inClass) {
      if (ch === "]") inClass = false;
      out += ch;
    } else if (ch === "[") {
      inClass = true;
      out += ch;
      // A "]" first in a class ("[]…]", "[^]…]") is a member, not its end.
      if (source[i + 1] === "^") out += source[++i];
      if (source[i + 1] === "]") out += source[++i];
    } else if (ch === "(" && source[i + 1] !== "?") out += "(?:";
    else if (ch === "(" && source.startsWith("(?P<", i)) {
      out += "(?:";
      i = source.indexOf(">", i);
    } else out += ch;
  }
  return out;
}

type GroupAt = { readonly at: number; readonly text: string } | null;

/** Matches longer than this (UTF-16 units) are reported whole rather than by their group. */
export const WHOLE_ABOVE = 16 * 1024;

/**
 * UTF-16 offsets of increasing byte offsets in UTF-8 `bytes`, walking forward from the last one asked
 * (so one pass over the text answers every match of a regex).
 */
function utf16Cursor(bytes: Buffer): (byteOffset: number) => number {
  let byte = 0;
  let unit = 0;
  return (to) => {
    for (; byte < to; byte++) {
      const b = bytes[byte]!;
      // A lead byte starts a character; a 4-byte one is a surrogate pair in UTF-16.
      if ((b & 0xc0) !== 0x80) unit += b >= 0xf0 ? 2 : 1;
    }
    return unit;
  };
}

/** After this many matches, the match density decides whether to go on with exec() or switch. */
const DENSITY_CHECK = 32;
/** Matches closer than this on average (bytes) switch to the marked replace. */
const DENSE_BYTES = 2048;

/**
 * Every match, from native passes over the UTF-8 bytes. Sparse matches (ordinary text) come one
 * exec() each: one pass, nothing copied. When they turn out dense (an adversarial storm: one every
 * few bytes, where a call per match would cost more than the scan), the rest of the text goes
 * through one replace() whose template wraps each match in markers (see {@link MARKED}), and the
 * marked copy is read in JavaScript. The group is found by matching the capturing pattern against
 * the match's own text, once per distinct match text (a storm repeats the same few). A match longer
 * than {@link WHOLE_ABOVE} is reported whole. Returns undefined when a match does not reproduce on
 * its own text, and the caller takes the exact path.
 */
function nativeMatches(
  bare: Re2Instance,
  single: Re2Instance,
  input: Utf8Text,
  group: number,
): MatchList | undefined {
  const { bytes } = input;
  const encoding = input.ascii ? "latin1" : "utf8";
  const toUnit = input.ascii ? undefined : utf16Cursor(bytes);
  const list = emptyList();
  const groups = new Map<string, GroupAt>();
  let prevText: string | undefined;
  let prevGroup: GroupAt = null;
  /** Records the match `match` at byte `byteStart`; false when its group cannot be found. */
  const add = (byteStart: number, match: string): boolean => {
    const start = toUnit ? toUnit(byteStart) : byteStart;
    let g: GroupAt = null;
    if (group !== 0 && match.length <= WHOLE_ABOVE) {
      if (match === prevText) g = prevGroup;
      else {
        let found = groups.get(match);
        if (found === undefined) {
          single.lastIndex = 0;
          const m = single.exec(match);
          if (m?.index !== 0 || m[0] !== match) return false;
          const value = m[group];
          found = typeof value === "string" ? { at: match.lastIndexOf(value), text: value } : null;
          groups.set(match, found);
        }
        g = found;
      }
      prevText = match;
      prevGroup = g;
      if (g) {
        list.starts.push(start + g.at);
        list.ends.push(start + g.at + g.text.length);
        list.texts.push(g.text);
      }
      return true;
    }
    // Finding a group inside a very long match costs RE2 a slow pass (~150 ms a MB); the whole
    // match is redacted instead: more than the secret, never less.
    list.starts.push(start);
    list.ends.push(start + match.length);
    list.texts.push(match);
    return true;
  };

  bare.lastIndex = 0;
  let count = 0;
  let windowStart = 0;
  for (;;) {
    const m = bare.exec(bytes);
    if (!m) return list;
    const matched = m[0]!;
    if (!add(m.index, matched.toString(encoding))) return undefined;
    // An empty match (no rule has one) must not stall the scan: step past the next character.
    if (matched.length === 0) {
      let next = m.index + 1;
      while (next < bytes.length && (bytes[next]! & 0xc0) === 0x80) next++;
      if (next > bytes.length) return list;
      bare.lastIndex = next;
    }
    if (++count % DENSITY_CHECK === 0) {
      if (bare.lastIndex - windowStart < DENSE_BYTES * DENSITY_CHECK) break;
      windowStart = bare.lastIndex;
    }
  }
  return markedRest(bare, bytes, bare.lastIndex, encoding, add) ? list : undefined;
}

/**
 * The matches of `bytes` that start at byte `base` or later, through one replace() with the markers
 * around each match, passed to `add` in order. False when `add` refuses one. The replace covers the
 * whole text, so that every match is found in the same context (`^`, `\b`) and sequence as exec()
 * found the ones before `base`: those are skipped (their part is scanned twice, at most once).
 */
function markedRest(
  bare: Re2Instance,
  bytes: Buffer,
  base: number,
  encoding: "latin1" | "utf8",
  add: (byteStart: number, match: string) => boolean,
): boolean {
  bare.lastIndex = 0;
  const marked = bare.replace(bytes, MARKED);
  // The previous match's bytes and text: an adversarial storm repeats one match, and comparing a
  // few bytes is cheaper than decoding it again.
  let prevOpen = -1;
  let prevLength = -1;
  let prevText = "";
  let from = 0;
  let inserted = 0;
  const end = marked.length;
  for (;;) {
    // Matches are close together here: a short look in JavaScript before the native search, which
    // costs a call each time.
    let open = from;
    const near = Math.min(end, from + 64);
    while (open < near && marked[open] !== MARK_OPEN) open++;
    if (open === near) open = near === end ? -1 : marked.indexOf(MARK_OPEN, near);
    if (open < 0) return true;
    let close = open + MARK_BYTES;
    while (close < end && marked[close] !== MARK_CLOSE) close++;
    if (close === end) return false;
    const length = close - open - MARK_BYTES;
    let match: string;
    if (length === prevLength && sameBytes(marked, open + MARK_BYTES, prevOpen + MARK_BYTES, length))
      match = prevText;
    else {
      match = marked.toString(encoding, open + MARK_BYTES, close);
      prevOpen = open;
      prevLength = length;
      prevText = match;
    }
    const byteStart = open - inserted;
    if (byteStart >= base && !add(byteStart, match)) return false;
    inserted += 2 * MARK_BYTES;
    from = close + MARK_BYTES;
  }
}

/** Whether `length` bytes at `a` and at `b` are equal (short runs: no native call). */
function sameBytes(buf: Buffer, a: number, b: number, length: number): boolean {
  if (length > 256) return buf.compare(buf, a, a + length, b, b + length) === 0;
  for (let i = 0; i < length; i++) if (buf[a + i] !== buf[b + i]) return false;
  return true;
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
    prepare: (text) => ({ text }),
    literals: includesLiterals,
    compile(source, { ignoreCase }) {
      const re = RE2JS.compile(source, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
      return {
        list(input, group) {
          const out = emptyList();
          const m = re.matcher(typeof input === "string" ? input : input.text);
          while (m.find()) {
            const start = m.start(group);
            if (start >= 0) {
              out.starts.push(start);
              out.ends.push(m.end(group));
              out.texts.push(m.group(group) ?? "");
            }
          }
          return out;
        },
        matches(input, group) {
          return toMatches(this.list(input, group));
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
      // Load-time check: a stale addon can load and still misbehave; the offsets after a character
      // outside the BMP check the byte-to-UTF-16 mapping.
      const probe = engine.compile("a(b+)", { ignoreCase: true });
      const p1 = probe.matches("xABb", 1);
      const p2 = probe.matches(engine.prepare("é🚀 ab xabb"), 1);
      // Dense matches take re2's marked replace (a template of bytes): check it too.
      const p3 = probe.matches(engine.prepare(`${"ab ".repeat(100)}é🚀abb`), 1);
      if (
        p1.length !== 1 ||
        p1[0]!.start !== 2 ||
        p1[0]!.end !== 4 ||
        p2.length !== 2 ||
        p2[1]!.start !== 9 ||
        p3.length !== 101 ||
        p3[99]!.start !== 298 ||
        p3[100]!.start !== 304 ||
        p3[100]!.end !== 306
      )
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
