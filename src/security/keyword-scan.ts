/**
 * Whether any of many literals occurs in a short text, case-insensitively, in plain JavaScript: the
 * check in front of the rules for the short strings that events are made of (ids, names, notes),
 * where a native call costs more than the scan. One look-up per pair of characters; the literals
 * that begin with a pair are compared only where the pair occurs.
 *
 * Case folding is ASCII's, plus the two characters that RE2's Unicode case folding maps onto ASCII
 * letters (`ſ` → s, the Kelvin sign `K` → k), so that this check never says no where a rule (RE2,
 * `(?i)`, UTF-8) would match. Literals that are not ASCII make `undefined`: the caller keeps a
 * regular expression for those.
 *
 * @example
 * const any = keywordScanner(["ghp_", "password"]);
 * any?.("my PassWord is"); // true
 */
export function keywordScanner(words: readonly string[]): ((text: string) => boolean) | undefined {
  const lower = [...new Set(words.map((w) => w.toLowerCase()))];
  if (lower.some((w) => !/^[\x20-\x7e]+$/.test(w))) return undefined;
  // A one-character literal matches wherever its character occurs.
  const single = new Uint8Array(128);
  // Literals by their first two characters (as a 14-bit key).
  const byPair = new Map<number, string[]>();
  const pairs = new Uint8Array(1 << 14);
  for (const w of lower) {
    if (w.length === 1) {
      single[w.charCodeAt(0)] = 1;
      continue;
    }
    const key = (w.charCodeAt(0) << 7) | w.charCodeAt(1);
    pairs[key] = 1;
    const list = byPair.get(key) ?? [];
    list.push(w);
    byPair.set(key, list);
  }
  const hasSingle = single.some((v) => v === 1);
  return (text) => {
    const n = text.length;
    let prev = n > 0 ? fold(text.charCodeAt(0)) : 0;
    if (hasSingle && prev < 128 && single[prev] === 1) return true;
    for (let i = 1; i < n; i++) {
      const c = fold(text.charCodeAt(i));
      if (hasSingle && c < 128 && single[c] === 1) return true;
      if (prev < 128 && c < 128 && pairs[(prev << 7) | c] === 1) {
        for (const w of byPair.get((prev << 7) | c)!) if (matchesAt(text, i - 1, w)) return true;
      }
      prev = c;
    }
    return false;
  };
}

/** ASCII lower case; `ſ` and the Kelvin sign fold to `s` and `k` as in RE2; others unchanged. */
function fold(c: number): number {
  if (c >= 65 && c <= 90) return c | 0x20;
  if (c === 0x17f) return 115;
  if (c === 0x212a) return 107;
  return c;
}

function matchesAt(text: string, at: number, word: string): boolean {
  if (at + word.length > text.length) return false;
  for (let j = 2; j < word.length; j++)
    if (fold(text.charCodeAt(at + j)) !== word.charCodeAt(j)) return false;
  return true;
}
