/**
 * Which of many literals occur in a text, case-insensitively, in plain JavaScript: the prefilter in
 * front of the rules for texts up to a few KB (event strings, ordinary tool results), where encoding
 * the text for the native engine and calling it costs more than the scan. The text is lower-cased
 * once (natively), then read once, one table look-up per pair of characters; the literals that
 * begin with a pair are compared only where the pair occurs.
 *
 * Case folding: JavaScript's lower-casing folds ASCII and the Kelvin sign `K` onto ASCII letters,
 * and `ſ` is folded to `s` here, the two characters that RE2's Unicode case folding maps onto ASCII
 * letters, so this check never says no where a rule (RE2, `(?i)`, UTF-8) would match. (Lower-casing
 * may map other characters near ASCII, `İ` to `i̇`: that can only add a candidate, never lose one.)
 * Literals that are not printable ASCII make `undefined`: the caller keeps another matcher for those.
 *
 * @example
 * const scan = keywordScan(["ghp_", "password"]);
 * scan?.any("my PassWord is"); // true
 * scan?.which("GHP_x password"); // [0, 1]
 */
export interface KeywordScan {
  /** Whether any literal occurs. */
  any(text: string): boolean;
  /** The indexes (into the literals given) of every literal that occurs, in no particular order. */
  which(text: string): number[];
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
  const owners = [...distinct.values()];
  // A one-character literal matches wherever its character occurs.
  const single = new Int16Array(128).fill(-1);
  // Literals by their first two characters: pairs[(a << 7) | b] is 1 + a slot of `byPair`, or 0.
  const pairs = new Uint16Array(1 << 14);
  const byPair: number[][] = [];
  literals.forEach((w, li) => {
    if (w.length === 1) {
      single[w.charCodeAt(0)] = li;
      return;
    }
    const key = (w.charCodeAt(0) << 7) | w.charCodeAt(1);
    if (pairs[key] === 0) {
      byPair.push([]);
      pairs[key] = byPair.length;
    }
    byPair[pairs[key]! - 1]!.push(li);
  });
  const singles = [...single].flatMap((li) => (li >= 0 ? [li] : []));
  const fold = (text: string): string => {
    const t = text.toLowerCase();
    return t.includes("\u017f") ? t.replaceAll("\u017f", "s") : t;
  };

  /** Calls `found(li)` for each literal occurrence; stops when it returns true. */
  const scan = (text: string, found: (li: number) => boolean): void => {
    const t = fold(text);
    const n = t.length;
    if (singles.length > 0) {
      for (const li of singles) if (t.includes(literals[li]!) && found(li)) return;
    }
    let prev = n > 0 ? t.charCodeAt(0) : 0;
    for (let i = 1; i < n; i++) {
      const c = t.charCodeAt(i);
      if ((prev | c) < 128) {
        const slot = pairs[(prev << 7) | c]!;
        if (slot !== 0) {
          for (const li of byPair[slot - 1]!) if (t.startsWith(literals[li]!, i - 1) && found(li)) return;
        }
      }
      prev = c;
    }
  };

  return {
    any(text) {
      let hit = false;
      scan(text, () => {
        hit = true;
        return true;
      });
      return hit;
    },
    which(text) {
      let seen: Uint8Array | undefined;
      const out: number[] = [];
      scan(text, (li) => {
        seen ??= new Uint8Array(literals.length);
        if (seen[li] === 0) {
          seen[li] = 1;
          for (const i of owners[li]!) out.push(i);
        }
        return false;
      });
      return out;
    },
  };
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
