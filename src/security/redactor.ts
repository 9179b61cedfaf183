import { createHash } from "node:crypto";
import { keywordScan } from "./keyword-scan.js";
import { type KnownSecret, KnownValues } from "./known-values.js";
import {
  type LinearRegex,
  type LinearText,
  loadRegexEngine,
  type RegexEngine,
  type RegexEngineName,
} from "./linear-regex.js";
import { SECRET_RULES, type SecretRule } from "./secret-rules.js";
import { knownRuns, mergeRuns, NO_SPANS, type SpanList, type SpanRun } from "./span-runs.js";

/** What was redacted, without the secret: the kind, where it was, and the placeholder that replaced it. */
export interface SecretFinding {
  /** Rule id (`aws_access_key`) or the known secret's label (`OPENAI_API_KEY`). */
  readonly kind: string;
  /** `rule` for a pattern match, `known` for an exact value the harness holds. */
  readonly source: "rule" | "known";
  /** UTF-16 offsets in the input. */
  readonly start: number;
  readonly end: number;
  readonly placeholder: string;
}

export interface RedactionResult {
  readonly text: string;
  readonly findings: readonly SecretFinding[];
}

export interface RedactorOptions {
  /** Linear-time engine (default `auto`: native `re2`, else `re2js`). */
  readonly engine?: RegexEngineName | "auto";
  /** Replaces the built-in rules. */
  readonly rules?: readonly SecretRule[];
  /** Exact values to redact (provider keys, sandbox env). */
  readonly knownSecrets?: readonly KnownSecret[];
  /** A registry shared with others (the harness shares one across sessions); `knownSecrets` are added to it. */
  readonly known?: KnownValues;
  /**
   * Longest text scanned in one piece (UTF-16 units, default 16 Mi). Anything past it is withheld,
   * replaced by `[REDACTED:oversize:<n> chars]`: content that was not scanned never gets through.
   */
  readonly maxInputChars?: number;
}

export const DEFAULT_MAX_INPUT_CHARS = 16 * 1024 * 1024;

/** Strings shorter than this cannot hold a secret any rule or known value matches. */
const MIN_SCAN_LENGTH = 8;

interface CompiledRule {
  readonly rule: SecretRule;
  readonly regex: LinearRegex;
}

interface CompiledSet {
  readonly rules: readonly CompiledRule[];
  /** Distinct keywords, each with the indexes of the rules it enables. */
  readonly keywords: readonly (readonly [string, readonly number[]])[];
  /** Which keywords occur in a text (one pass). */
  readonly prefilter: (text: LinearText) => readonly number[];
  /**
   * Which keywords occur (indexes into `keywords`), for texts up to QUICK_CHECK_MAX (no native call):
   * a JavaScript scan by character pairs (keyword-scan.ts); `undefined` when a keyword is not ASCII.
   */
  readonly whichKeywords: ((text: string) => readonly number[]) | undefined;
  /** Whether any keyword occurs: the same scan, or V8 on a trie of the literals. */
  readonly anyKeyword: (text: string) => boolean;
  readonly engine: RegexEngine;
}

/**
 * Strings up to this length found clean are remembered, per known-values registry and rule set (so
 * per harness), up to CLEAN_CACHE_ENTRIES: events repeat the same strings (stage notes, tool names,
 * ids), and a step must not pay for scanning them again. Longer strings (tool results) rarely
 * repeat, and looking one up costs a hash of all its characters: they are scanned.
 */
const CLEAN_CACHE_MAX_CHARS = 160;
const CLEAN_CACHE_ENTRIES = 1024;

interface CleanCache {
  version: number;
  readonly strings: Set<string>;
  /**
   * The clean strings the walk met last, by a slot computed from a string's length and two of its
   * characters: an event's strings (its keys, the tool's name, the call's id) are found here by one
   * load and a comparison (the same string object, as a rule) before the set is asked (a hash
   * probe), which was most of an event's walk. Only ever holds strings found clean under `version`.
   */
  readonly recent: (string | undefined)[];
  /**
   * The clean strings scanned last, by another slot (see `onceSlot`): a string found clean joins
   * `strings` only when it is scanned clean a second time (it recurs, and was pushed out of `recent`),
   * so strings made for one event (a call's id, seen in one model answer and then found in `recent`)
   * do not fill the set, which is cleared and grown again each time it is full.
   */
  readonly once: (string | undefined)[];
  /**
   * Frozen plain objects and arrays found clean, with everything inside them (deep-frozen, data
   * properties only), under the known-values version `frozenVersion`: the last FROZEN_SLOTS, found by
   * identity. Frozen data cannot change, so the harness's shared records with several entries (a
   * call's stage list) are walked once, not once per event. A ring compared by identity rather than
   * a WeakMap: asking a WeakMap, and `Object.isFrozen` before it, for every object an event holds
   * cost more than walking the few small records it spared (their strings are found in `recent`), and
   * a WeakMap's table only shrinks at a major collection. Only objects worth skipping (FROZEN_MIN_ITEMS
   * strings or objects) are checked for freezing and remembered.
   */
  readonly frozen: (object | undefined)[];
  frozenAt: number;
  frozenVersion: number;
  /**
   * The keyword scan over the rules' keywords followed by the known values' forms (indexes from
   * `keywords.length` on are known values), under the known-values version `scanVersion`: one pass
   * tells which rules to run and whether a known value may occur, so a text that holds none is not
   * searched once per known form. `null` when a form is not printable ASCII (or a rule's keyword
   * is not): the rules' own scan runs, and every known form is searched.
   */
  scan: ((text: string) => readonly number[]) | null;
  scanVersion: number;
}
const cleanCaches = new WeakMap<KnownValues, WeakMap<CompiledSet, CleanCache>>();

function cleanCacheFor(known: KnownValues, set: CompiledSet): CleanCache {
  let bySet = cleanCaches.get(known);
  if (!bySet) {
    bySet = new WeakMap();
    cleanCaches.set(known, bySet);
  }
  let cache = bySet.get(set);
  if (!cache) {
    cache = {
      version: known.version,
      strings: new Set(),
      recent: new Array<string | undefined>(RECENT_SLOTS).fill(undefined),
      once: new Array<string | undefined>(RECENT_SLOTS).fill(undefined),
      frozen: new Array<object | undefined>(FROZEN_SLOTS).fill(undefined),
      frozenAt: 0,
      frozenVersion: -1,
      scan: null,
      scanVersion: -1,
    };
    bySet.set(set, cache);
  }
  return cache;
}

/** Slots of CleanCache.recent (a power of two). */
const RECENT_SLOTS = 512;

/** A string's slot in CleanCache.recent (`n` is its length, at least 1). */
const recentSlot = (text: string, n: number) =>
  (n * 31 + text.charCodeAt(n - 1) * 7 + text.charCodeAt(0) + text.charCodeAt(n >> 1) * 131) &
  (RECENT_SLOTS - 1);

/** A string's slot in CleanCache.once: other characters than `recentSlot`'s, so strings that share one rarely share both. */
const onceSlot = (text: string, n: number) =>
  (n * 17 + text.charCodeAt(n - 1) * 131 + text.charCodeAt(0) * 7 + text.charCodeAt(n >> 2) * 3) &
  (RECENT_SLOTS - 1);

/** Frozen objects remembered clean per cache (see CleanCache.frozen). */
const FROZEN_SLOTS = 8;

/** Strings and objects an object must hold to be worth remembering (see CleanCache.frozen). */
const FROZEN_MIN_ITEMS = 4;

/** How many long vouched strings a redactor remembers (a step's results). */
const VOUCHED_ENTRIES = 16;

/** Below this length the V8 literal check decides whether to call the engine at all. */
const QUICK_CHECK_MAX = 4096;

const compiledCache = new WeakMap<readonly SecretRule[], Map<string, CompiledSet>>();

function compile(engine: RegexEngine, rules: readonly SecretRule[]): CompiledSet {
  let byEngine = compiledCache.get(rules);
  if (!byEngine) {
    byEngine = new Map();
    compiledCache.set(rules, byEngine);
  }
  const cached = byEngine.get(engine.name);
  if (cached) return cached;
  const compiled: CompiledRule[] = rules.map((rule) => {
    const ignoreCase = rule.pattern.startsWith("(?i)");
    const source = ignoreCase ? rule.pattern.slice(4) : rule.pattern;
    return { rule, regex: engine.compile(source, { ignoreCase }) };
  });
  const keywords = new Map<string, number[]>();
  compiled.forEach(({ rule }, i) => {
    for (const k of rule.keywords) {
      const list = keywords.get(k) ?? [];
      // Ascending and distinct (a keyword listed twice by one rule enables it once): #find runs a
      // single keyword's list as it is.
      if (list[list.length - 1] !== i) list.push(i);
      keywords.set(k, list);
    }
  });
  const list = [...keywords];
  const words = list.map(([k]) => k);
  const scan = keywordScan(words);
  const trie = scan ? undefined : new RegExp(trieSource(words), "i");
  const anyKeyword = scan ? (text: string) => scan.any(text) : (text: string) => trie!.test(text);
  const set = {
    rules: compiled,
    keywords: list,
    prefilter: engine.literals(list.map(([k]) => k)),
    whichKeywords: scan ? (text: string) => scan.which(text) : undefined,
    anyKeyword,
    engine,
  };
  byEngine.set(engine.name, set);
  return set;
}

/**
 * One regex source for many literals, factored as a trie (`a(?:kia|ws)|g(?:hp_|ho_)`): V8 then checks
 * one character class per position instead of trying every literal in turn.
 */
function trieSource(words: readonly string[]): string {
  interface Node {
    end: boolean;
    next: Map<string, Node>;
  }
  const root: Node = { end: false, next: new Map() };
  for (const w of words) {
    let n = root;
    for (const ch of w) {
      let c = n.next.get(ch);
      if (!c) {
        c = { end: false, next: new Map() };
        n.next.set(ch, c);
      }
      n = c;
    }
    n.end = true;
  }
  const esc = (ch: string) => ch.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
  const emit = (n: Node): string => {
    // A shorter keyword ends here: the rest is optional (matching the shorter one is enough).
    if (n.end) return "";
    const alts = [...n.next].map(([ch, c]) => esc(ch) + emit(c));
    return alts.length === 1 ? alts[0]! : `(?:${alts.join("|")})`;
  };
  return emit(root);
}

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  // UTF-16 code units, counted without allocating per character (a "secret" can be megabytes long).
  const ascii = new Uint32Array(128);
  let other: Map<number, number> | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 128) ascii[c]!++;
    else {
      other ??= new Map();
      other.set(c, (other.get(c) ?? 0) + 1);
    }
  }
  let h = 0;
  const add = (count: number) => {
    if (count === 0) return;
    const p = count / s.length;
    h -= p * Math.log2(p);
  };
  for (const c of ascii) add(c);
  if (other) for (const c of other.values()) add(c);
  return h;
}

interface Span {
  start: number;
  end: number;
  kind: string;
  source: "rule" | "known";
}

const NOTHING_FOUND: { readonly spans: SpanList } = Object.freeze({ spans: NO_SPANS });
const NO_KEYWORDS: readonly number[] = Object.freeze([]);
/** The findings of every clean text: one frozen empty list. */
const NO_FINDINGS: readonly SecretFinding[] = Object.freeze([]);

/** Builds an ASCII string from pieces of an ASCII source and ASCII placeholders, in one buffer. */
class AsciiBuilder {
  readonly #source: Uint8Array;
  #out: Buffer;
  #at = 0;

  constructor(source: Uint8Array) {
    this.#source = source;
    this.#out = Buffer.allocUnsafe(source.length + 256);
  }

  #room(n: number): void {
    if (this.#at + n <= this.#out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#out.length * 2, this.#at + n));
    this.#out.copy(bigger, 0, 0, this.#at);
    this.#out = bigger;
  }

  /** Appends source bytes [from, to). */
  copy(from: number, to: number): this {
    const n = to - from;
    this.#room(n);
    if (n > 32) this.#out.set(this.#source.subarray(from, to), this.#at);
    else for (let i = 0; i < n; i++) this.#out[this.#at + i] = this.#source[from + i]!;
    this.#at += n;
    return this;
  }

  /** Appends an ASCII string. */
  add(s: string): this {
    this.#room(s.length);
    for (let i = 0; i < s.length; i++) this.#out[this.#at + i] = s.charCodeAt(i);
    this.#at += s.length;
    return this;
  }

  done(): string {
    return this.#out.toString("latin1", 0, this.#at);
  }
}

/**
 * Finds credentials in text and replaces them with placeholders that are stable within this
 * redactor (one per session): the same secret is always `[REDACTED:github_token:1]`, a different one
 * `…:2`. A placeholder never contains any part of the secret. Matching uses a linear-time engine
 * behind a keyword prefilter, so no input can make it backtrack.
 *
 * @example
 * const redactor = new SecretRedactor({ knownSecrets: knownSecretsFromEnv(process.env) });
 * redactor.redact("key=AKIAIOSFODNN7EXAMPLE").text; // "key=[REDACTED:aws_access_key:1]"
 */
export class SecretRedactor {
  readonly engine: RegexEngineName;
  readonly known: KnownValues;
  readonly maxInputChars: number;
  readonly #set: CompiledSet;
  readonly #clean: CleanCache;
  /**
   * Long strings vouched clean by the result pipeline (see {@link SecretRedactor.vouch}), the last
   * VOUCHED_ENTRIES (a ring, newest at #vouchedAt - 1), under the known-values version they were
   * vouched in. Searched newest first: the event that records a result asks right after it was
   * vouched, and finds the same string object at once, without hashing or comparing its characters.
   */
  readonly #vouched: (string | undefined)[] = new Array(VOUCHED_ENTRIES).fill(undefined);
  #vouchedAt = 0;
  #vouchedVersion = -1;
  /** The known-values version {@link SecretRedactor.redactValue}'s walk began under. */
  #walkVersion = -1;
  /**
   * sha256(secret) → placeholder; hashes, so the book itself holds no secret. Made with the first
   * secret found: most sessions find none, and an empty Map costs 184 bytes for the session's life.
   */
  #book: Map<string, string> | undefined;
  #counters: Map<string, number> | undefined;

  constructor(options: RedactorOptions = {}) {
    const engine = loadRegexEngine(options.engine ?? "auto");
    this.engine = engine.name;
    this.#set = compile(engine, options.rules ?? SECRET_RULES);
    this.known = options.known ?? new KnownValues();
    for (const k of options.knownSecrets ?? []) this.known.add(k.label, k.value);
    this.maxInputChars = options.maxInputChars ?? DEFAULT_MAX_INPUT_CHARS;
    this.#clean = cleanCacheFor(this.known, this.#set);
  }

  /** Redacts `text`; returns it unchanged (the same string) when nothing was found. */
  redact(text: string): RedactionResult {
    return this.#knownClean(text) ? { text, findings: NO_FINDINGS } : this.#redactUncached(text);
  }

  /**
   * Whether `text` is known to hold no secret without scanning it: too short, vouched, or found
   * clean before. Events repeat the same strings dozens of times a step: this is their path.
   */
  #knownClean(text: string): boolean {
    if (text.length < MIN_SCAN_LENGTH) return true;
    if (text.length > CLEAN_CACHE_MAX_CHARS) return this.#isVouched(text);
    const cache = this.#clean;
    if (cache.version !== this.known.version) this.#forgetClean();
    return cache.recent[recentSlot(text, text.length)] === text || cache.strings.has(text);
  }

  #isVouched(text: string): boolean {
    if (this.#vouchedVersion !== this.known.version) return false;
    const ring = this.#vouched;
    for (let i = 1; i <= VOUCHED_ENTRIES; i++) {
      const v = ring[(this.#vouchedAt - i + VOUCHED_ENTRIES) % VOUCHED_ENTRIES];
      if (v === undefined) return false;
      if (v.length === text.length && v === text) return true;
    }
    return false;
  }

  #redactUncached(text: string): RedactionResult {
    return this.#redactOrClean(text) ?? { text, findings: NO_FINDINGS };
  }

  /**
   * `#redactUncached`, answering `undefined` when `text` is clean (it then joins the clean cache), so
   * the walk of an event allocates no result for the strings it finds clean (most of them).
   */
  #redactOrClean(text: string, remember = true): RedactionResult | undefined {
    let input = text;
    let oversize = "";
    if (input.length > this.maxInputChars) {
      oversize = `[REDACTED:oversize:${input.length - this.maxInputChars} chars]`;
      input = input.slice(0, this.maxInputChars);
    }
    const { spans, prepared } = this.#find(input);
    if (spans.count === 0) {
      if (oversize) return { text: input + oversize, findings: NO_FINDINGS };
      if (remember && text.length <= CLEAN_CACHE_MAX_CHARS) this.#rememberClean(text);
      return undefined;
    }
    return this.#apply(input, spans, oversize, prepared?.asciiBytes);
  }

  /** Remembers `text` (at most CLEAN_CACHE_MAX_CHARS), just scanned and found clean (see CleanCache.once). */
  #rememberClean(text: string): void {
    const cache = this.#clean;
    const n = text.length;
    cache.recent[recentSlot(text, n)] = text;
    const slot = onceSlot(text, n);
    if (cache.once[slot] !== text) {
      cache.once[slot] = text;
      return;
    }
    if (cache.strings.size >= CLEAN_CACHE_ENTRIES) cache.strings.clear();
    cache.strings.add(text);
  }

  /**
   * The secret spans of `text`, merged so none overlap (the union of overlapping matches is
   * redacted whole), in order. Exposed for the stream redactor.
   */
  spans(text: string): Span[] {
    const list = this.#find(text).spans;
    const out: Span[] = [];
    for (let i = 0; i < list.count; i++) {
      const run = list.runs[list.runOf[i]!]!;
      out.push({ start: list.starts[i]!, end: list.ends[i]!, kind: run.kind, source: run.source });
    }
    return out;
  }

  #find(text: string): { spans: SpanList; prepared?: LinearText } {
    const set = this.#set;
    // Up to QUICK_CHECK_MAX, the keywords come from a JavaScript scan: most texts hold none, and then
    // nothing is encoded for the native engine nor passed to it.
    const quick = text.length <= QUICK_CHECK_MAX;
    const ruleKeywords = set.keywords.length;
    // Indexes of the keywords found (those from `ruleKeywords` on are known values' forms), or
    // undefined when the native engine is to say.
    let found: readonly number[] | undefined;
    let mayHoldKnown = this.known.size > 0;
    if (quick) {
      const scan = mayHoldKnown ? this.#scanWithKnown() : null;
      if (scan !== null) {
        found = scan(text);
        mayHoldKnown = false;
        for (let i = 0; i < found.length; i++)
          if (found[i]! >= ruleKeywords) {
            mayHoldKnown = true;
            break;
          }
      } else if (set.whichKeywords) found = set.whichKeywords(text);
      else if (!set.anyKeyword(text)) found = NO_KEYWORDS;
    }
    let noRule = found !== undefined;
    if (found !== undefined)
      for (let i = 0; i < found.length; i++)
        if (found[i]! < ruleKeywords) {
          noRule = false;
          break;
        }
    // The common case for the strings of events: nothing to find, nothing to allocate.
    if (noRule && !mayHoldKnown) return NOTHING_FOUND;
    // Runs of spans, each in order and without overlaps of its own: per known value, per rule.
    const runs: SpanRun[] = [];
    if (mayHoldKnown) {
      const hits = this.known.find(text);
      if (hits.length > 0) for (const r of knownRuns(hits)) runs.push(r);
    }
    if (noRule) return runs.length === 0 ? NOTHING_FOUND : { spans: mergeRuns(runs) };
    // The rules to run, in rule order (a rule's spans must come out the same whatever the keyword
    // order), each once, less those whose precheck proves they cannot match.
    let prepared: LinearText | undefined;
    let keywords = found;
    if (keywords === undefined) {
      prepared = set.engine.prepare(text);
      keywords = set.prefilter(prepared);
    }
    // One keyword of the rules found (the usual case, such as a URL's `://`): its own list of rules
    // (ascending and distinct, made by compile), nothing allocated; several: the union of their lists.
    let only = -1;
    let several = false;
    for (let j = 0; j < keywords.length; j++) {
      const k = keywords[j]!;
      if (k >= ruleKeywords || k === only) continue;
      if (only !== -1) {
        several = true;
        break;
      }
      only = k;
    }
    const order = several
      ? rulesOf(set, keywords, ruleKeywords)
      : only === -1
        ? NO_KEYWORDS
        : set.keywords[only]![1];
    for (let n = 0; n < order.length; n++) {
      const i = order[n]!;
      const { rule, regex } = set.rules[i]!;
      if (rule.precheck !== undefined && !rule.precheck(text)) continue;
      prepared ??= set.engine.prepare(text);
      const checked = rule.minEntropy !== undefined || rule.validate !== undefined;
      // A text repeats the same candidates (a log, or an input built to be slow): judge each once.
      let verdicts: Map<string, boolean> | undefined;
      let prevText: string | undefined;
      let prevOk = false;
      const m = regex.list(prepared, rule.group);
      // Accepted matches are compacted in place: the run is the match list's own arrays.
      const { starts, ends, texts } = m;
      let kept = 0;
      for (let j = 0; j < starts.length; j++) {
        const start = starts[j]!;
        const end = ends[j]!;
        if (end <= start) continue;
        if (checked) {
          const value = texts[j]!;
          let ok: boolean | undefined = value === prevText ? prevOk : verdicts?.get(value);
          if (ok === undefined) {
            ok =
              (rule.minEntropy === undefined || shannonEntropy(value) >= rule.minEntropy) &&
              (rule.validate === undefined || rule.validate(value));
            verdicts ??= new Map();
            verdicts.set(value, ok);
          }
          prevText = value;
          prevOk = ok;
          if (!ok) continue;
        }
        starts[kept] = start;
        ends[kept] = end;
        kept++;
      }
      starts.length = kept;
      ends.length = kept;
      const found: SpanRun = { kind: rule.id, source: "rule", starts, ends };
      if (found.starts.length > 0) runs.push(found);
    }
    if (runs.length === 0) return NOTHING_FOUND;
    return prepared ? { spans: mergeRuns(runs), prepared } : { spans: mergeRuns(runs) };
  }

  /** The scan of the rules' keywords and the known values' forms (see CleanCache.scan), rebuilt when a value is added. */
  #scanWithKnown(): ((text: string) => readonly number[]) | null {
    const cache = this.#clean;
    const version = this.known.version;
    if (cache.scanVersion !== version) {
      cache.scan = null;
      if (this.#set.whichKeywords !== undefined) {
        const scan = keywordScan([...this.#set.keywords.map(([k]) => k), ...this.known.texts]);
        if (scan !== undefined) cache.scan = (text) => scan.which(text);
      }
      cache.scanVersion = version;
    }
    return cache.scan;
  }

  /**
   * Records that `text` is known clean without scanning it: the harness vouches for a spotlighted
   * result whose content this redactor has just redacted (the wrapper adds only markers), so the
   * event that records it is not scanned a second time. Keeps the last 16.
   */
  vouch(text: string): void {
    if (text.length <= CLEAN_CACHE_MAX_CHARS) {
      // Short ones join the clean cache (valid while no known secret is added, like every entry).
      if (this.#knownClean(text)) return;
      if (this.#clean.strings.size >= CLEAN_CACHE_ENTRIES) this.#clean.strings.clear();
      this.#clean.strings.add(text);
      return;
    }
    if (this.#vouchedVersion !== this.known.version) {
      this.#vouched.fill(undefined);
      this.#vouchedVersion = this.known.version;
    }
    this.#vouched[this.#vouchedAt] = text;
    this.#vouchedAt = (this.#vouchedAt + 1) % VOUCHED_ENTRIES;
  }

  /** The session-stable placeholder of one secret. */
  placeholder(kind: string, secret: string): string {
    const key = createHash("sha256").update(kind).update("\u0000").update(secret).digest("base64");
    this.#book ??= new Map();
    const book = this.#book;
    let p = book.get(key);
    if (p === undefined) {
      this.#counters ??= new Map();
      const counters = this.#counters;
      const n = (counters.get(kind) ?? 0) + 1;
      counters.set(kind, n);
      p = `[REDACTED:${kind}:${n}]`;
      book.set(key, p);
    }
    return p;
  }

  #apply(input: string, spans: SpanList, oversize: string, ascii?: Uint8Array): RedactionResult {
    const parts: string[] = [];
    // An ASCII text is rebuilt in a byte buffer: no string per span for the collector to chase.
    const out = ascii ? new AsciiBuilder(ascii) : undefined;
    const findings: SecretFinding[] = [];
    // Within one text the same secret often recurs: hash it once (the map dies with this call).
    const seen = new Map<string, Map<string, string>>();
    let at = 0;
    // The previous span's secret and placeholder: a storm repeats one, and comparing it in place
    // costs less than cutting it out and looking it up again.
    let prevKind: string | undefined;
    let prevSecret = "";
    let prevPlaceholder = "";
    const { starts, ends, runOf, runs } = spans;
    for (let i = 0; i < spans.count; i++) {
      const start = starts[i]!;
      const end = ends[i]!;
      const { kind, source } = runs[runOf[i]!]!;
      let placeholder: string | undefined;
      if (
        kind === prevKind &&
        source === "rule" &&
        end - start === prevSecret.length &&
        input.startsWith(prevSecret, start)
      )
        placeholder = prevPlaceholder;
      else {
        // Every encoded form of a known secret is the same secret: one placeholder per label.
        const secret = source === "known" ? "" : input.slice(start, end);
        let ofKind = seen.get(kind);
        if (ofKind === undefined) {
          ofKind = new Map();
          seen.set(kind, ofKind);
        }
        placeholder = ofKind.get(secret);
        if (placeholder === undefined) {
          placeholder = this.placeholder(kind, secret);
          ofKind.set(secret, placeholder);
        }
        prevKind = source === "rule" ? kind : undefined;
        prevSecret = secret;
        prevPlaceholder = placeholder;
      }
      if (out) out.copy(at, start).add(placeholder);
      else parts.push(input.slice(at, start), placeholder);
      findings.push({ kind, source, start, end, placeholder });
      at = end;
    }
    if (out) return { text: out.copy(at, input.length).done() + oversize, findings };
    parts.push(input.slice(at), oversize);
    return { text: parts.join(""), findings };
  }

  /**
   * Redacts every string (and object key) inside a JSON-like value, copying only what changed: the
   * same object comes back when nothing was found. O(the value's size), never more.
   */
  redactValue<T>(value: T): T {
    // The clean cache is checked against the known values once here, not once per string.
    if (this.#clean.version !== this.known.version) this.#forgetClean();
    this.#walkVersion = this.known.version;
    return this.#walk(value, 0) as T;
  }

  /**
   * `text` redacted, or the same string when it holds no secret: {@link SecretRedactor.redactValue}
   * for one string, through the same clean cache (the event filter's check of one field).
   */
  redactText(text: string): string {
    if (this.#clean.version !== this.known.version) this.#forgetClean();
    return this.#cleanString(text);
  }

  /**
   * {@link SecretRedactor.redactText} for a string made for one event (a call's idempotency key):
   * scanned like any other, but, found clean, not remembered (it would only push out strings that recur).
   */
  redactTextOnce(text: string): string {
    if (text.length < MIN_SCAN_LENGTH) return text;
    if (this.#clean.version !== this.known.version) this.#forgetClean();
    if (text.length > CLEAN_CACHE_MAX_CHARS && this.#isVouched(text)) return text;
    return this.#redactOrClean(text, false)?.text ?? text;
  }

  /**
   * {@link SecretRedactor.redactValue} for a record the harness shares between events (a call's
   * stage list, a policy's cached assessment): when it is deep-frozen data and found clean, it is
   * remembered by identity (the last FROZEN_SLOTS, under the current known values), whatever its
   * size, so the next event that holds it is not walked again. Anything else is walked as always.
   */
  redactShared<T>(value: T): T {
    if (typeof value !== "object" || value === null) return this.redactValue(value);
    const cache = this.#clean;
    const version = this.known.version;
    if (cache.version !== version) this.#forgetClean();
    if (cache.frozenVersion === version) {
      const ring = cache.frozen;
      for (let i = 0; i < FROZEN_SLOTS; i++) if (ring[i] === value) return value;
    }
    this.#walkVersion = version;
    const out = this.#walkObject(value, 1);
    // The walk remembers what it finds worth it (FROZEN_MIN_ITEMS); this remembers the rest.
    if (out === value && cache.frozen[(cache.frozenAt + FROZEN_SLOTS - 1) % FROZEN_SLOTS] !== value)
      this.#rememberFrozen(value);
    return out as T;
  }

  /** Empties the clean cache: a known secret was added since its strings were scanned. */
  #forgetClean(): void {
    const cache = this.#clean;
    cache.strings.clear();
    cache.recent.fill(undefined);
    cache.once.fill(undefined);
    cache.version = this.known.version;
  }

  /**
   * {@link SecretRedactor.redactValue}'s string check: `#knownClean` without the version check its
   * caller made, inlined in the walk's loops (most of an event's strings are short and seen before).
   */
  #cleanString(text: string): string {
    const n = text.length;
    if (n < MIN_SCAN_LENGTH) return text;
    if (n <= CLEAN_CACHE_MAX_CHARS) {
      const cache = this.#clean;
      const slot = recentSlot(text, n);
      if (cache.recent[slot] === text) return text;
      if (cache.strings.has(text)) {
        cache.recent[slot] = text;
        return text;
      }
      // Found clean, it joins the recent table too (#rememberClean): a call's id recurs in most of its events.
      return this.#redactOrClean(text)?.text ?? text;
    }
    if (this.#isVouched(text)) return text;
    return this.#redactOrClean(text)?.text ?? text;
  }

  #walk(value: unknown, depth: number): unknown {
    if (typeof value === "string") return this.#cleanString(value);
    if (typeof value !== "object" || value === null) return value;
    return this.#walkObject(value, depth);
  }

  /**
   * One object or array of {@link SecretRedactor.redactValue}'s walk. Numbers, booleans and null
   * (most of an event's fields) are passed over in the loop, without a call each.
   */
  #walkObject(value: object, depth: number): unknown {
    if (depth > 64) return "[REDACTED:too_deep]";
    const cache = this.#clean;
    if (cache.frozenVersion === this.known.version) {
      const ring = cache.frozen;
      for (let i = 0; i < FROZEN_SLOTS; i++) if (ring[i] === value) return value;
    }
    // Strings and objects met: an object with few is not worth checking for freezing.
    let items = 0;
    if (Array.isArray(value)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i];
        let r: unknown;
        if (typeof v === "string") r = this.#cleanString(v);
        else if (typeof v === "object" && v !== null) r = this.#walkObject(v, depth + 1);
        else continue;
        items++;
        if (r !== v) {
          out ??= value.slice();
          out[i] = r;
        }
      }
      if (out === undefined && items >= FROZEN_MIN_ITEMS && depth > 0) this.#rememberFrozen(value);
      return out ?? value;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    const obj = value as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    // for…in rather than Object.keys: V8 reads each value through the object's enum cache (no array
    // made, no keyed lookup per property). It also lists what the prototype chain adds (only if
    // someone made a property of Object.prototype enumerable): those are scanned like the rest, and
    // a copy never takes them as its own.
    for (const k in obj) {
      const v = obj[k];
      const rk = k.length < MIN_SCAN_LENGTH ? k : this.#cleanString(k);
      let rv: unknown;
      if (typeof v === "string") {
        rv = this.#cleanString(v);
        items++;
      } else if (typeof v === "object" && v !== null) {
        rv = this.#walkObject(v, depth + 1);
        items++;
      } else rv = v;
      if ((rk !== k || rv !== v) && Object.hasOwn(obj, k)) {
        out ??= { ...obj };
        if (rk !== k) delete out[k];
        out[rk] = rv;
      }
    }
    // An event's own data (depth 0) is made for it: only what it holds may recur.
    if (out === undefined && items >= FROZEN_MIN_ITEMS && depth > 0) this.#rememberFrozen(obj);
    return out ?? value;
  }

  /**
   * Remembers an object or array just walked and found clean when nothing in it can change: it is
   * frozen, every property is a data property (a getter could answer differently next time), and
   * every object inside is the same, all the way down.
   */
  #rememberFrozen(value: object): void {
    const version = this.#walkVersion;
    // A known secret added while the object was walked (by a getter or a proxy's trap elsewhere in
    // the value): part of it may have been scanned without it.
    if (this.known.version !== version) return;
    if (!Object.isFrozen(value) || !deepFrozenData(value, 0)) return;
    const cache = this.#clean;
    if (cache.frozenVersion !== version) {
      cache.frozen.fill(undefined);
      cache.frozenAt = 0;
      cache.frozenVersion = version;
    }
    cache.frozen[cache.frozenAt] = value;
    cache.frozenAt = (cache.frozenAt + 1) % FROZEN_SLOTS;
  }
}

/** The rules enabled by several keywords (indexes into `set.keywords`; known values' from `ruleKeywords` on are not), in rule order, each once. */
function rulesOf(set: CompiledSet, keywords: readonly number[], ruleKeywords: number): number[] {
  const wanted = new Uint8Array(set.rules.length);
  for (const k of keywords) if (k < ruleKeywords) for (const i of set.keywords[k]![1]) wanted[i] = 1;
  const out: number[] = [];
  for (let i = 0; i < wanted.length; i++) if (wanted[i] === 1) out.push(i);
  return out;
}

/** Whether `value` (known frozen) holds only data properties, and objects inside are the same. */
function deepFrozenData(value: object, depth: number): boolean {
  if (depth > 64) return false;
  const descriptors = Object.getOwnPropertyDescriptors(value) as Record<string, PropertyDescriptor>;
  for (const k in descriptors) {
    const d = descriptors[k]!;
    if (!("value" in d)) return false;
    const v = d.value as unknown;
    if (typeof v === "object" && v !== null && !(Object.isFrozen(v) && deepFrozenData(v, depth + 1)))
      return false;
  }
  return true;
}
