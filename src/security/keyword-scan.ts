/**
 * Which of many literals occur in a text, case-insensitively, in plain JavaScript: the prefilter in
 * front of the rules for texts up to a few KB (event strings, ordinary tool results), where encoding
 * the text for the native engine and calling it costs more than the scan. The text is copied once
 * into a scratch buffer (one byte per character, its low byte: `Buffer#write` with `latin1`), then read
 * eight bytes at a time, one table entry looked up per pair of characters at an even offset; the literals a
 * pair can belong to are compared (on the text itself) only where the pair occurs. Nothing is
 * allocated for a text that holds no literal.
 *
 * Why pairs at even offsets are enough: a literal of three or more characters that starts at an even
 * offset of the text has each pair at an even offset of its own (its 1st and 2nd characters, its 3rd
 * and 4th, …) at an even offset of the text, and one that starts at an odd offset has each pair at an
 * odd offset of its own there; so the table holds, for each literal, one pair of each kind (in every
 * case), the rarest in English or code of its first eight characters. A literal of two characters is
 * the pair itself at an even offset, and at an odd one its second character starts a pair (with any
 * character after it, or the end of the text): every such pair is in the table. Literals of one
 * character are looked for with `includes`, in each of their case forms.
 *
 * Case folding: ASCII letters fold onto their lower case, and so do the two characters that RE2's
 * Unicode case folding maps onto ASCII letters, `ſ` (onto `s`) and the Kelvin sign `K` (onto `k`), so
 * this check never says no where a rule (RE2, `(?i)`, UTF-8) would match. Literals that are not
 * printable ASCII make `undefined`: the caller keeps another matcher for those.
 *
 * @example
 * const scan = keywordScan(["ghp_", "password"]);
 * scan?.any("my PassWord is"); // true
 * scan?.which("GHP_x password"); // [0, 1]
 */
export interface KeywordScan {
  /** Whether any literal occurs. */
  any(text: string): boolean;
  /**
   * The indexes (into the literals given) of every literal that occurs, in no particular order: one
   * shared empty (frozen) list when none does, the case of most texts, and a shared frozen list when
   * one literal occurs.
   */
  which(text: string): readonly number[];
}

const LONG_S = 0x17f;
const KELVIN = 0x212a;

/** A character folded as RE2's case-insensitive matching does, for comparison with a lower-case ASCII literal. */
function fold(c: number): number {
  if (c < 128) return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
  if (c === LONG_S) return 0x73;
  if (c === KELVIN) return 0x6b;
  return -1;
}

/** Every character that folds onto the lower-case ASCII character `c`. */
function forms(c: number): number[] {
  const out = [c];
  if (c >= 0x61 && c <= 0x7a) out.push(c & ~0x20);
  if (c === 0x73) out.push(LONG_S);
  if (c === 0x6b) out.push(KELVIN);
  return out;
}

/** Every string that folds onto `w` (for literals of one character). */
function spellings(w: string): string[] {
  let out = [""];
  for (let i = 0; i < w.length; i++) {
    const fs = forms(w.charCodeAt(i));
    out = out.flatMap((p) => fs.map((f) => p + String.fromCharCode(f)));
  }
  return out;
}

/** Whether this machine stores the low byte of a 16-bit word first (how the scan's words are read). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The table index of a pair of characters as a 16-bit word of the scratch buffer holds it, masked to
 * the low 7 bits of each (`word & 0x7f7f`): characters outside ASCII land on some index and are
 * verified like any other candidate.
 */
const pairIndex = (a: number, b: number) =>
  LITTLE_ENDIAN ? (a & 0x7f) | ((b & 0x7f) << 8) : ((a & 0x7f) << 8) | (b & 0x7f);

/** Pairs frequent in English and code: a literal is looked for by a rarer pair of its own where it has one. */
const COMMON_PAIRS = new Set(
  "th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur ac ta ng et el la ca ge ss".split(
    " ",
  ),
);

/**
 * The offset of the pair a literal is looked for by, for starts of one parity: an offset of that
 * parity (0, 2, … or 1, 3, …; a pair at an even offset of the text then covers the literal) whose
 * pair is rarest in ordinary text: one with a digit, else one with another character that is not a
 * letter or a space, else a letter pair that is not common, else the first (a pair with a space is
 * as common as the common letter pairs). The first of the rarest wins.
 * Offsets stay below 8 (they are packed in 3 bits). A known secret's forms (base64 among them) are
 * looked for this way too: a letter pair of theirs, folded, is often a common one in prose.
 */
function pickOffset(w: string, parity: 0 | 1): number {
  let pick = parity;
  let best = -1;
  for (let o = parity; o + 1 < w.length && o < 8; o += 2) {
    const pair = w.slice(o, o + 2);
    // A space next to a letter (`e `, ` k`) is among the commonest pairs of prose: it counts as a
    // common pair, not as a rare character (`private key` was looked for by `e `, 27 times a KB of prose).
    const score = /[0-9]/.test(pair)
      ? 3
      : /[^a-z ]/.test(pair)
        ? 2
        : pair.includes(" ") || COMMON_PAIRS.has(pair)
          ? 0
          : 1;
    if (score > best) {
      best = score;
      pick = o;
    }
  }
  return pick;
}

/**
 * The scan's inner loop: from word `j` on, two words (four pairs) at a time, the first two whose
 * pairs have candidates (`j` such that `j + 1 >= m` when none).
 */
function nextWordsWithPair(words: Uint32Array, slotOf: Uint16Array, j: number, m: number): number {
  for (; j + 1 < m; j += 2) {
    const w = words[j]!;
    const x = words[j + 1]!;
    if (
      (slotOf[w & 0x7f7f]! |
        slotOf[(w >>> 16) & 0x7f7f]! |
        slotOf[x & 0x7f7f]! |
        slotOf[(x >>> 16) & 0x7f7f]!) !==
      0
    )
      return j;
  }
  return j;
}

/** Texts up to this length are read in place rather than copied into the scratch buffer. */
const SHORT_TEXT = 96;

/** Characters copied into the shared scratch buffer at most; a longer text gets a buffer of its own. */
const SCRATCH_CHARS = 16 * 1024;
let scratchWords: Uint32Array | undefined;
let scratchBytes: Buffer | undefined;

/** `text`'s low bytes, as 32-bit words (the last one padded with whatever was there). */
function wordsOf(text: string): Uint32Array {
  if (text.length > SCRATCH_CHARS) {
    const ab = new ArrayBuffer((text.length + 3) & ~3);
    Buffer.from(ab).write(text, 0, "latin1");
    return new Uint32Array(ab);
  }
  if (scratchWords === undefined) {
    const ab = new ArrayBuffer(SCRATCH_CHARS);
    scratchWords = new Uint32Array(ab);
    scratchBytes = Buffer.from(ab);
  }
  scratchBytes!.write(text, 0, "latin1");
  return scratchWords;
}

export function keywordScan(words: readonly string[]): KeywordScan | undefined {
  const lower = words.map((w) => w.toLowerCase());
  if (lower.some((w) => !/^[\x20-\x7e]+$/.test(w))) return undefined;
  // Distinct lower-case literals, each with the indexes of the literals given that it stands for.
  const distinct = new Map<string, number[]>();
  lower.forEach((w, i) => {
    const list = distinct.get(w) ?? [];
    list.push(i);
    distinct.set(w, list);
  });
  const literals = [...distinct.keys()];
  // Frozen: `which` answers one of them as it is when only its literal occurs.
  const owners = [...distinct.values()].map((list) => Object.freeze(list));
  /** Literals of one character, by their spellings (looked for with `includes`). */
  const short: ShortLiteral[] = [];
  /** Pair index → candidates, packed `literal << 3 | offset`. */
  const candidates = new Map<number, number[]>();
  const add = (a: number, b: number, li: number, offset: number) => {
    const idx = pairIndex(a, b);
    const list = candidates.get(idx) ?? [];
    if (!list.includes((li << 3) | offset)) list.push((li << 3) | offset);
    candidates.set(idx, list);
  };
  literals.forEach((w, li) => {
    if (w.length === 1) {
      short.push({ li, spellings: spellings(w) });
      return;
    }
    if (w.length === 2) {
      // Starting at an even offset, the literal is a pair of the scan; at an odd one, its second
      // character starts one, whatever follows (the text's end included: the scan reads the last
      // character of an odd-length text paired with 0).
      for (const a of forms(w.charCodeAt(0))) for (const b of forms(w.charCodeAt(1))) add(a, b, li, 0);
      for (const a of forms(w.charCodeAt(1))) for (let b = 0; b < 128; b++) add(a, b, li, 1);
      return;
    }
    for (const offset of [pickOffset(w, 0), pickOffset(w, 1)])
      for (const a of forms(w.charCodeAt(offset)))
        for (const b of forms(w.charCodeAt(offset + 1))) add(a, b, li, offset);
  });
  // Candidates by pair index, dense (an indexed load where a map would hash): a 64 KB table of slots
  // (0: no literal has that pair); slot n's candidates are pool[starts[n]] up to pool[starts[n + 1]].
  // A table entry per index rather than a bit: the test of a word's two pairs is then two loads and
  // an or, the scan's whole inner loop.
  const slotOf = new Uint16Array(1 << 15);
  const starts = new Int32Array(candidates.size + 2);
  let total = 0;
  for (const list of candidates.values()) total += list.length;
  const pool = new Int32Array(total);
  let slot = 1;
  let filled = 0;
  candidates.forEach((list, idx) => {
    slotOf[idx] = slot;
    starts[slot] = filled;
    for (let k = 0; k < list.length; k++) pool[filled++] = list[k]!;
    slot++;
  });
  starts[slot] = filled;

  return new PairScan(literals, owners, short, slotOf, starts, pool);
}

/** `which`'s answer when no literal occurs. */
const NONE: readonly number[] = Object.freeze([]);

interface ShortLiteral {
  readonly li: number;
  readonly spellings: readonly string[];
}

/**
 * One scan's tables and its methods. A class rather than closures: every scan (the redactor makes
 * one per harness, its known values folded in) runs the same optimised code, where closures over
 * each scan's own tables were measured 30 % slower once two scans were in use.
 */
class PairScan implements KeywordScan {
  readonly #literals: readonly string[];
  readonly #owners: readonly (readonly number[])[];
  readonly #short: readonly ShortLiteral[];
  readonly #slotOf: Uint16Array;
  readonly #starts: Int32Array;
  readonly #pool: Int32Array;
  readonly #firsts: Int32Array;
  /** `which`'s marks (1 per literal found) and the literals marked, in the order found. */
  readonly #seen: Uint8Array;
  readonly #found: Int32Array;
  #count = 0;

  constructor(
    literals: readonly string[],
    owners: readonly (readonly number[])[],
    short: readonly ShortLiteral[],
    slotOf: Uint16Array,
    starts: Int32Array,
    pool: Int32Array,
  ) {
    this.#literals = literals;
    this.#owners = owners;
    this.#short = short;
    this.#slotOf = slotOf;
    this.#starts = starts;
    this.#pool = pool;
    this.#firsts = Int32Array.from(literals, (w) => w.charCodeAt(0));
    this.#seen = new Uint8Array(literals.length);
    this.#found = new Int32Array(literals.length);
  }

  any(text: string): boolean {
    return this.#scan(text, false) !== -1;
  }

  which(text: string): readonly number[] {
    // One scratch table (a scan calls nothing that could re-enter it), cleared as it is read: by the
    // list of what was found, so a text costs nothing per literal it does not hold.
    this.#count = 0;
    this.#scan(text, true);
    if (this.#count === 0) return NONE;
    if (this.#count === 1) {
      // One literal found (the usual case when any is): its owners, frozen, shared by every such answer.
      const li = this.#found[0]!;
      this.#seen[li] = 0;
      return this.#owners[li]!;
    }
    const out: number[] = [];
    const seen = this.#seen;
    const found = this.#found;
    for (let k = 0; k < this.#count; k++) {
      const li = found[k]!;
      seen[li] = 0;
      for (const i of this.#owners[li]!) out.push(i);
    }
    return out;
  }

  /** Whether literal `li` occurs at `start` (folded comparison). */
  #at(t: string, li: number, start: number): boolean {
    const w = this.#literals[li]!;
    if (start < 0 || start + w.length > t.length) return false;
    for (let j = 0; j < w.length; j++) if (fold(t.charCodeAt(start + j)) !== w.charCodeAt(j)) return false;
    return true;
  }

  /** Marks literal `li` found (`all`); answers whether the scan may stop (it may when not `all`). */
  #mark(li: number, all: boolean): boolean {
    if (!all) return true;
    this.#seen[li] = 1;
    this.#found[this.#count++] = li;
    return false;
  }

  /**
   * With `all`, marks every literal found and answers -1; without, answers the first found (-1: none).
   */
  #scan(t: string, all: boolean): number {
    const seen = this.#seen;
    const short = this.#short;
    for (let i = 0; i < short.length; i++) {
      const s = short[i]!;
      if (all && seen[s.li] === 1) continue;
      // A loop, not `some` with a closure: this runs for every text scanned.
      const sp = s.spellings;
      for (let j = 0; j < sp.length; j++)
        if (t.includes(sp[j]!)) {
          if (this.#mark(s.li, all)) return s.li;
          break;
        }
    }
    const n = t.length;
    if (n < 2) return -1;
    const slotOf = this.#slotOf;
    if (n <= SHORT_TEXT) {
      // Short texts (ids, names, notes: most strings of an event) are read in place, a pair at a time:
      // copying them costs more than the copy saves.
      for (let i = 0; i + 1 < n; i += 2) {
        const idx = pairIndex(t.charCodeAt(i), t.charCodeAt(i + 1));
        if (slotOf[idx] === 0) continue;
        const found = this.#check(t, idx, i, all);
        if (found !== -1) return found;
      }
      // An odd length: the last character, paired with 0, for a two-character literal that ends the
      // text (it starts at an odd offset: its second character is the pair's first).
      if ((n & 1) === 1) {
        const idx = pairIndex(t.charCodeAt(n - 1), 0);
        if (slotOf[idx] !== 0) return this.#check(t, idx, n - 1, all);
      }
      return -1;
    }
    const words = wordsOf(t);
    const m = (t.length + 3) >> 2;
    let j = 0;
    for (;;) {
      j = nextWordsWithPair(words, slotOf, j, m);
      if (j + 1 >= m) break;
      const a = this.#checkWord(t, words[j]!, j, all);
      if (a !== -1) return a;
      const b = this.#checkWord(t, words[j + 1]!, j + 1, all);
      if (b !== -1) return b;
      j += 2;
    }
    if (j < m) return this.#checkWord(t, words[j]!, j, all);
    return -1;
  }

  /** The two pairs of word `j` (characters 4j to 4j + 3): as `#scan`, for one word. */
  #checkWord(t: string, w: number, j: number, all: boolean): number {
    const lo = w & 0x7f7f;
    const hi = (w >>> 16) & 0x7f7f;
    // The pair at 4j is the word's first half in memory order: its low half on a little-endian machine.
    const a = this.#check(t, LITTLE_ENDIAN ? lo : hi, 4 * j, all);
    if (a !== -1) return a;
    return this.#check(t, LITTLE_ENDIAN ? hi : lo, 4 * j + 2, all);
  }

  /** The candidates of pair index `idx` at offset `i`: as `#scan`, for one pair. */
  #check(t: string, idx: number, i: number, all: boolean): number {
    const slot = this.#slotOf[idx]!;
    if (slot === 0) return -1;
    const pool = this.#pool;
    const seen = this.#seen;
    const firsts = this.#firsts;
    const end = this.#starts[slot + 1]!;
    for (let k = this.#starts[slot]!; k < end; k++) {
      const c = pool[k]!;
      const li = c >> 3;
      if (all && seen[li] === 1) continue;
      const start = i - (c & 7);
      // Most candidates differ at their first character: compared here before the call.
      if (start < 0 || fold(t.charCodeAt(start)) !== firsts[li]) continue;
      if (this.#at(t, li, start) && this.#mark(li, all)) return li;
    }
    return -1;
  }
}

/**
 * Whether any of many literals occurs in a text (see {@link keywordScan}); `undefined` when a
 * literal is not printable ASCII.
 *
 * @example
 * const any = keywordScanner(["ghp_", "password"]);
 * any?.("my PassWord is"); // true
 */
export function keywordScanner(words: readonly string[]): ((text: string) => boolean) | undefined {
  const scan = keywordScan(words);
  return scan ? (text) => scan.any(text) : undefined;
}
