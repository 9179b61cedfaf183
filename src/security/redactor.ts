import { createHash } from "node:crypto";
import { type KnownHit, type KnownSecret, KnownValues } from "./known-values.js";
import {
  type LinearRegex,
  type LinearText,
  loadRegexEngine,
  type RegexEngine,
  type RegexEngineName,
} from "./linear-regex.js";
import { SECRET_RULES, type SecretRule } from "./secret-rules.js";

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
  /** Whether any keyword occurs: V8 on a pure alternation of literals, for short strings (no native call). */
  readonly anyKeyword: RegExp;
  readonly engine: RegexEngine;
}

/**
 * Strings up to this length found clean are remembered, per known-values registry and rule set (so
 * per harness), up to CLEAN_CACHE_ENTRIES: events repeat the same strings (stage notes, tool names,
 * ids), and a step must not pay for scanning them again.
 */
const CLEAN_CACHE_MAX_CHARS = 512;
const CLEAN_CACHE_ENTRIES = 4096;

interface CleanCache {
  version: number;
  readonly strings: Set<string>;
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
    cache = { version: known.version, strings: new Set() };
    bySet.set(set, cache);
  }
  return cache;
}

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
      list.push(i);
      keywords.set(k, list);
    }
  });
  const list = [...keywords];
  const anyKeyword = new RegExp(trieSource(list.map(([k]) => k)), "i");
  const set = {
    rules: compiled,
    keywords: list,
    prefilter: engine.literals(list.map(([k]) => k)),
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

/** Known-value hits (all needles, each needle's in order) as runs that are each in order. */
function knownRuns(hits: readonly KnownHit[]): Span[][] {
  const runs: Span[][] = [];
  let current: Span[] = [];
  for (const h of hits) {
    const last = current.at(-1);
    if (last && h.start < last.end) {
      runs.push(current);
      current = [];
    }
    current.push({ start: h.start, end: h.end, kind: h.label, source: "known" });
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

/**
 * Whether span `a` comes before `b`: earliest first; at the same start, the longest, and a known
 * value before a rule (ties keep the runs' order).
 */
function before(a: Span, b: Span): boolean {
  if (a.start !== b.start) return a.start < b.start;
  if (a.end !== b.end) return a.end > b.end;
  return a.source === "known" && b.source === "rule";
}

/**
 * The union of the runs' spans, merged so none overlap (the union of overlapping matches is redacted
 * whole), in order. A k-way merge of runs that are already in order: O(spans × runs), where sorting
 * every span of an adversarial text (tens of thousands) would cost far more.
 */
function mergeRuns(runs: Span[][]): Span[] {
  if (runs.length === 0) return [];
  if (runs.length === 1) return runs[0]!;
  const heads = new Array<number>(runs.length).fill(0);
  const merged: Span[] = [];
  let last: Span | undefined;
  // Whether `last` is a copy made here (a run's own span is never changed).
  let copied = false;
  for (;;) {
    let pick = -1;
    for (let r = 0; r < runs.length; r++) {
      const s = runs[r]![heads[r]!];
      if (s !== undefined && (pick < 0 || before(s, runs[pick]![heads[pick]!]!))) pick = r;
    }
    if (pick < 0) return merged;
    const s = runs[pick]![heads[pick]!++]!;
    if (last && s.start < last.end) {
      if (s.end > last.end) {
        if (!copied) {
          last = { ...last };
          merged[merged.length - 1] = last;
          copied = true;
        }
        last.end = s.end;
      }
    } else {
      last = s;
      copied = false;
      merged.push(last);
    }
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
  /** Strings vouched clean by the result pipeline (see {@link SecretRedactor.vouch}); a small ring. */
  readonly #vouched: string[] = [];
  /** sha256(secret) → placeholder; hashes, so the book itself holds no secret. */
  readonly #book = new Map<string, string>();
  readonly #counters = new Map<string, number>();

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
    if (text.length < MIN_SCAN_LENGTH) return { text, findings: [] };
    if (this.#vouched.length > 0 && this.#vouched.includes(text)) return { text, findings: [] };
    const cacheable = text.length <= CLEAN_CACHE_MAX_CHARS;
    if (cacheable) {
      const cache = this.#clean;
      if (cache.version !== this.known.version) {
        cache.strings.clear();
        cache.version = this.known.version;
      }
      if (cache.strings.has(text)) return { text, findings: [] };
    }
    let input = text;
    let oversize = "";
    if (input.length > this.maxInputChars) {
      oversize = `[REDACTED:oversize:${input.length - this.maxInputChars} chars]`;
      input = input.slice(0, this.maxInputChars);
    }
    const spans = this.spans(input);
    if (spans.length === 0) {
      if (cacheable) {
        if (this.#clean.strings.size >= CLEAN_CACHE_ENTRIES) this.#clean.strings.clear();
        this.#clean.strings.add(text);
      }
      return oversize ? { text: input + oversize, findings: [] } : { text, findings: [] };
    }
    return this.#apply(input, spans, oversize);
  }

  /**
   * The secret spans of `text`, merged so none overlap (the union of overlapping matches is
   * redacted whole), in order. Exposed for the stream redactor.
   */
  spans(text: string): Span[] {
    // Runs of spans, each sorted and without overlaps of its own: one per known value, one per rule.
    const runs: Span[][] = [];
    if (this.known.size > 0) {
      const hits = this.known.find(text);
      if (hits.length > 0) runs.push(...knownRuns(hits));
    }
    if (text.length <= QUICK_CHECK_MAX && !this.#set.anyKeyword.test(text)) return mergeRuns(runs);
    const prepared = this.#set.engine.prepare(text);
    const run = new Set<number>();
    for (const k of this.#set.prefilter(prepared)) for (const i of this.#set.keywords[k]![1]) run.add(i);
    for (const i of [...run].sort((a, b) => a - b)) {
      const { rule, regex } = this.#set.rules[i]!;
      const checked = rule.minEntropy !== undefined || rule.validate !== undefined;
      // A text repeats the same candidates (a log, or an input built to be slow): judge each once.
      let verdicts: Map<string, boolean> | undefined;
      let prevText: string | undefined;
      let prevOk = false;
      const found: Span[] = [];
      for (const m of regex.matches(prepared, rule.group)) {
        if (m.end <= m.start) continue;
        if (checked) {
          let ok: boolean | undefined = m.text === prevText ? prevOk : verdicts?.get(m.text);
          if (ok === undefined) {
            ok =
              (rule.minEntropy === undefined || shannonEntropy(m.text) >= rule.minEntropy) &&
              (rule.validate === undefined || rule.validate(m.text));
            verdicts ??= new Map();
            verdicts.set(m.text, ok);
          }
          prevText = m.text;
          prevOk = ok;
          if (!ok) continue;
        }
        found.push({ start: m.start, end: m.end, kind: rule.id, source: "rule" });
      }
      if (found.length > 0) runs.push(found);
    }
    return mergeRuns(runs);
  }

  /**
   * Records that `text` is known clean without scanning it: the harness vouches for a spotlighted
   * result whose content this redactor has just redacted (the wrapper adds only markers), so the
   * event that records it is not scanned a second time. Keeps the last 16.
   */
  vouch(text: string): void {
    if (this.#vouched.length >= 16) this.#vouched.shift();
    this.#vouched.push(text);
  }

  /** The session-stable placeholder of one secret. */
  placeholder(kind: string, secret: string): string {
    const key = createHash("sha256").update(kind).update("\u0000").update(secret).digest("base64");
    let p = this.#book.get(key);
    if (p === undefined) {
      const n = (this.#counters.get(kind) ?? 0) + 1;
      this.#counters.set(kind, n);
      p = `[REDACTED:${kind}:${n}]`;
      this.#book.set(key, p);
    }
    return p;
  }

  #apply(input: string, spans: readonly Span[], oversize: string): RedactionResult {
    const parts: string[] = [];
    const findings: SecretFinding[] = [];
    // Within one text the same secret often recurs: hash it once (the map dies with this call).
    const seen = new Map<string, Map<string, string>>();
    let at = 0;
    // The previous span's secret and placeholder: a storm repeats one, and comparing it in place
    // costs less than cutting it out and looking it up again.
    let prev: { kind: string; secret: string; placeholder: string } | undefined;
    for (const s of spans) {
      if (
        prev !== undefined &&
        s.kind === prev.kind &&
        s.source === "rule" &&
        s.end - s.start === prev.secret.length &&
        input.startsWith(prev.secret, s.start)
      ) {
        parts.push(input.slice(at, s.start), prev.placeholder);
        findings.push({
          kind: s.kind,
          source: s.source,
          start: s.start,
          end: s.end,
          placeholder: prev.placeholder,
        });
        at = s.end;
        continue;
      }
      // Every encoded form of a known secret is the same secret: one placeholder per label.
      const secret = s.source === "known" ? "" : input.slice(s.start, s.end);
      let ofKind = seen.get(s.kind);
      if (ofKind === undefined) {
        ofKind = new Map();
        seen.set(s.kind, ofKind);
      }
      let placeholder = ofKind.get(secret);
      if (placeholder === undefined) {
        placeholder = this.placeholder(s.kind, secret);
        ofKind.set(secret, placeholder);
      }
      parts.push(input.slice(at, s.start), placeholder);
      findings.push({ kind: s.kind, source: s.source, start: s.start, end: s.end, placeholder });
      at = s.end;
      prev = s.source === "rule" ? { kind: s.kind, secret, placeholder } : undefined;
    }
    parts.push(input.slice(at), oversize);
    return { text: parts.join(""), findings };
  }

  /**
   * Redacts every string (and object key) inside a JSON-like value, copying only what changed: the
   * same object comes back when nothing was found. O(the value's size), never more.
   */
  redactValue<T>(value: T): T {
    return this.#walk(value, 0) as T;
  }

  #walk(value: unknown, depth: number): unknown {
    if (typeof value === "string") return value.length < MIN_SCAN_LENGTH ? value : this.redact(value).text;
    if (typeof value !== "object" || value === null) return value;
    if (depth > 64) return "[REDACTED:too_deep]";
    if (Array.isArray(value)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const v = value[i];
        const r = this.#walk(v, depth + 1);
        if (r !== v) {
          out ??= value.slice();
          out[i] = r;
        }
      }
      return out ?? value;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    const obj = value as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    for (const k in obj) {
      if (!Object.hasOwn(obj, k)) continue;
      const v = obj[k];
      const rk = k.length < MIN_SCAN_LENGTH ? k : this.redact(k).text;
      const rv = this.#walk(v, depth + 1);
      if (rk !== k || rv !== v) {
        out ??= { ...obj };
        if (rk !== k) delete out[k];
        out[rk] = rv;
      }
    }
    return out ?? value;
  }
}
