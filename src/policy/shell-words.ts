/**
 * Shell words as the shell will see them after quote removal: `r''m`, `\rm`, `"rm"` and `$'\x72m'`
 * all become `rm`, so a rule about `rm` cannot be dodged by quoting. A word whose value is only
 * known at run time (`$x`, `$(…)`, `${IFS}`) has `value: null`: the analysis treats it as unknown.
 */

/** One word of a parsed command (a command name, an argument, a redirect target). */
export interface ShellWord {
  /** The word after quote removal, or null when it depends on run-time expansion. */
  readonly value: string | null;
  /** The word as written. */
  readonly raw: string;
  /** Unquoted glob or brace characters: the shell expands it to file names. */
  readonly glob: boolean;
  /** Ids of the commands inside `$(…)`, `` `…` ``, `<(…)` or `>(…)` in this word. */
  readonly substitutions: readonly number[];
  /** Part of the word is a process substitution (`<(…)`, `>(…)`): a path to another command's output. */
  readonly processSubstitution: boolean;
  /** Variables the word expands (`$x`, `${x}`). */
  readonly variables: readonly string[];
}

/** Backslash escapes of an unquoted word: `\x` is `x`; backslash-newline is a line continuation. */
export function unescapeUnquoted(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length) {
      const next = text[++i];
      if (next !== "\n") out += next;
    } else out += c;
  }
  return out;
}

/** Inside double quotes a backslash escapes only `$`, `` ` ``, `"`, `\` and newline. */
export function unescapeDoubleQuoted(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const next = text[i + 1];
    if (c === "\\" && next !== undefined && '$`"\\\n'.includes(next)) {
      i++;
      if (next !== "\n") out += next;
    } else out += c;
  }
  return out;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: "\x07",
  b: "\b",
  e: "\x1b",
  E: "\x1b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
  "'": "'",
  '"': '"',
  "?": "?",
};

/** Decodes the body of `$'…'` (bash ANSI-C quoting): `\x72`, `\162`, `\u0072`, `\n`, `\cX`. */
export function decodeAnsiC(body: string): string {
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== "\\" || i + 1 >= body.length) {
      out += c;
      continue;
    }
    const e = body[++i] as string;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      out += simple;
    } else if (e === "x" || e === "u" || e === "U") {
      const max = e === "x" ? 2 : e === "u" ? 4 : 8;
      const m = /^[0-9a-fA-F]+/.exec(body.slice(i + 1, i + 1 + max));
      if (!m) out += `\\${e}`;
      else {
        out += String.fromCodePoint(Number.parseInt(m[0], 16));
        i += m[0].length;
      }
    } else if (e >= "0" && e <= "7") {
      const m = /^[0-7]{1,3}/.exec(body.slice(i)) as RegExpExecArray;
      out += String.fromCharCode(Number.parseInt(m[0], 8) & 0xff);
      i += m[0].length - 1;
    } else if (e === "c" && i + 1 < body.length) {
      out += String.fromCharCode((body.charCodeAt(++i) & 0x1f) >>> 0);
    } else {
      out += `\\${e}`;
    }
  }
  return out;
}

/** Unquoted characters the shell expands into file names (`*`, `?`, `[`) or brace lists (`{a,b}`). */
export function hasUnquotedGlob(unquotedText: string): boolean {
  for (let i = 0; i < unquotedText.length; i++) {
    const c = unquotedText[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === "*" || c === "?" || c === "[") return true;
    if (c === "{" && unquotedText.includes(",", i)) return true;
  }
  return false;
}
