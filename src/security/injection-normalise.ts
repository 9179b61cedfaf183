/**
 * Undoes the disguises prompt injections wear, so the detector reads what the model would read:
 * zero-width and other invisible characters, homoglyphs (Cyrillic and Greek look-alikes, fullwidth
 * and mathematical letters), letter spacing (`i g n o r e`), case, and whitespace; and decodes the
 * encodings a payload hides in (base64, URL-encoding, rot13).
 */

// Zero-width, joiners, bidi controls, soft hyphen, word joiner, BOM, tag characters.
const INVISIBLE =
  /[\u00AD\u061C\u115F\u1160\u17B4\u17B5\u180E\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFEFF\uFFA0\u{E0000}-\u{E007F}]|\u034F|\u180B|\u180C|\u180D|\u180F|[\uFE00-\uFE0F]/gu;

const HOMOGLYPHS: Record<string, string> = {
  а: "a",
  е: "e",
  о: "o",
  р: "p",
  с: "c",
  у: "y",
  х: "x",
  і: "i",
  ј: "j",
  ѕ: "s",
  ԁ: "d",
  ɡ: "g",
  һ: "h",
  ԛ: "q",
  ԝ: "w",
  ӏ: "l",
  ո: "n",
  ս: "u",
  А: "a",
  В: "b",
  Е: "e",
  К: "k",
  М: "m",
  Н: "h",
  О: "o",
  Р: "p",
  С: "c",
  Т: "t",
  Х: "x",
  У: "y",
  І: "i",
  Ј: "j",
  Ѕ: "s",
  α: "a",
  ε: "e",
  ο: "o",
  ρ: "p",
  τ: "t",
  υ: "u",
  ν: "v",
  ι: "i",
  κ: "k",
  χ: "x",
  Α: "a",
  Β: "b",
  Ε: "e",
  Ζ: "z",
  Η: "h",
  Ι: "i",
  Κ: "k",
  Μ: "m",
  Ν: "n",
  Ο: "o",
  Ρ: "p",
  Τ: "t",
  Υ: "y",
  Χ: "x",
  ı: "i",
  ł: "l",
  ø: "o",
  "‐": "-",
  "‑": "-",
  "–": "-",
  "—": "-",
  "‘": "'",
  "’": "'",
  "“": '"',
  "”": '"',
  "＜": "<",
  "＞": ">",
  "｜": "|",
};
const HOMOGLYPH_RE = new RegExp(`[${Object.keys(HOMOGLYPHS).join("")}]`, "g");

/** Case, width, invisible characters, homoglyphs, spacing: the text as a model would read it. */
export function normalise(text: string): string {
  let t = text.normalize("NFKC").replace(INVISIBLE, "");
  t = t.replace(HOMOGLYPH_RE, (ch) => HOMOGLYPHS[ch] ?? ch);
  t = t.toLowerCase();
  // "i g n o r e  a l l" / "i.g.n.o.r.e" → "ignore all": runs of single letters split by one separator.
  t = t.replace(/\b(?:[a-z][ ._\-*](?=[a-z]\b)){3,}[a-z]\b/g, (run) => run.replace(/[ ._\-*]/g, ""));
  return t.replace(/[ \t\u00A0]+/g, " ");
}

export interface DecodedLayer {
  readonly encoding: "base64" | "url" | "rot13";
  readonly text: string;
}

// One character class (standard and URL-safe alphabets together): V8 runs it as a tight loop.
const BASE64_RUN = /[A-Za-z0-9+/_=-]{20,}/g;
/** No control characters other than tab and newlines: decoded binary is not a hidden instruction. */
function printable(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || (c >= 0x7f && c < 0xa0) || c === 0xfffd)
      return false;
  }
  return true;
}

/**
 * Hidden payloads: each base64 run that decodes to readable text, the URL-decoded text when it has
 * escapes, and the rot13 of the text (cheap, and the detector only trusts strong signals in it).
 * At most `maxLayers` base64 runs; each decoded once (no recursion bombs).
 */
export function decodeLayers(text: string, withRot13 = true, maxLayers = 32): DecodedLayer[] {
  const layers: DecodedLayer[] = [];
  let n = 0;
  for (const m of text.matchAll(BASE64_RUN)) {
    if (++n > maxLayers) break;
    const decoded = Buffer.from(
      m[0],
      m[0].includes("-") || m[0].includes("_") ? "base64url" : "base64",
    ).toString("utf8");
    if (decoded.length >= 8 && printable(decoded) && /[a-z]{3,} [a-z]{2,}/i.test(decoded))
      layers.push({ encoding: "base64", text: decoded });
  }
  if (/%[0-9a-f]{2}/i.test(text)) {
    const url = text.replace(/(?:%[0-9a-f]{2})+/gi, (seq) => {
      try {
        return decodeURIComponent(seq);
      } catch {
        return seq;
      }
    });
    if (url !== text) layers.push({ encoding: "url", text: url });
  }
  if (withRot13) layers.push({ encoding: "rot13", text: rot13(text) });
  return layers;
}

export function rot13(text: string): string {
  return text.replace(/[a-z]/gi, (c) => {
    const base = c <= "Z" ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base);
  });
}
