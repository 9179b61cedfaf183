/**
 * Text from the model, tools and errors, made safe to print on a terminal. A terminal obeys
 * control characters: ESC starts sequences that clear the screen (`\x1b[2J`), move the cursor,
 * retitle the window or plant hyperlinks (`\x1b]8;;url\x07`); CR returns to the start of the
 * line so later text overwrites what the reader was meant to see; bidi overrides reorder what is
 * shown; zero-width and tag characters hide text. Each such character is shown as its escape
 * (`\x1b`, `\r`, `\u202e`, `\u{e0041}`) instead, so the reader sees that it was there.
 */

/**
 * Control characters (C0, DEL, C1: `\p{Cc}`), format characters (bidi marks and overrides, zero-width
 * space/joiners, word joiner, BOM, soft hyphen, tag characters: `\p{Cf}`), the line and paragraph
 * separators, lone surrogates, and the Hangul fillers that render as blank letters.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u3164\uFFA0]/gu;
/** The same, minus the newline and tab that text keeps as layout. */
const UNSAFE_IN_TEXT = /[^\P{Cc}\n\t]|[\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u3164\uFFA0]/gu;

function escapeChar(ch: string): string {
  switch (ch) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
  }
  const code = ch.codePointAt(0)!;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, "0")}`;
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, "0")}`;
  return `\\u{${code.toString(16)}}`;
}

/** One line's worth: every control and invisible character escaped, newlines and tabs included. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/** Prose: as `terminalSafe`, but newlines and tabs stay, so the model's paragraphs still read as lines. */
export function terminalSafeText(text: string): string {
  return text.replace(UNSAFE_IN_TEXT, escapeChar);
}

/**
 * JSON text with the same characters written as `\uXXXX` escapes: still valid JSON that parses to
 * exactly the same values (they can only occur inside strings), but inert on a terminal. JSON.stringify
 * escapes C0 controls and lone surrogates itself, not DEL, C1, bidi or invisible characters.
 */
export function terminalSafeJson(json: string): string {
  return json.replace(UNSAFE, (ch) => {
    const code = ch.codePointAt(0)!;
    if (code < 0x10000) return `\\u${code.toString(16).padStart(4, "0")}`;
    const high = 0xd800 + ((code - 0x10000) >> 10);
    const low = 0xdc00 + ((code - 0x10000) & 0x3ff);
    return `\\u${high.toString(16)}\\u${low.toString(16)}`;
  });
}
