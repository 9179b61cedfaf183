/**
 * Secrets the harness itself holds (provider API keys, env passed to a sandbox), redacted by exact
 * value wherever they appear: as given, URL-encoded, base64-encoded, and JSON-escaped.
 */

/** Values shorter than this are not treated as secrets: they would shred ordinary text (`PORT=8080`). */
export const MIN_KNOWN_SECRET_LENGTH = 8;

export interface KnownSecret {
  /** Names the secret in its placeholder (`[REDACTED:OPENAI_API_KEY:1]`); never the value. */
  readonly label: string;
  readonly value: string;
}

/** Environment variable names whose values are credentials. */
const SECRET_ENV_NAME =
  /(?:^|_)(?:API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|PWD|CREDENTIALS?|PRIVATE_KEY|ACCESS_KEY|AUTH|SESSION|COOKIE|DSN)(?:_|$)/i;

/**
 * Picks the credentials out of an environment: variables named like `*_API_KEY`, `*_TOKEN`,
 * `*_SECRET`, `*_PASSWORD` (and the like) whose value is at least 8 characters.
 *
 * @example
 * const secrets = knownSecretsFromEnv(process.env); // [{ label: "OPENAI_API_KEY", value: "sk-…" }, …]
 */
export function knownSecretsFromEnv(env: Readonly<Record<string, string | undefined>>): KnownSecret[] {
  const out: KnownSecret[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value.length >= MIN_KNOWN_SECRET_LENGTH && SECRET_ENV_NAME.test(name))
      out.push({ label: name, value });
  }
  return out;
}

const NO_HITS: readonly KnownHit[] = Object.freeze([]);

interface Needle {
  readonly label: string;
  readonly text: string;
}

/** A span of text that is a known secret (or one of its encodings). */
export interface KnownHit {
  readonly label: string;
  readonly start: number;
  readonly end: number;
}

function sanitiseLabel(label: string): string {
  const clean = label.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 64);
  return clean === "" ? "known_secret" : clean;
}

/** The forms a value takes when a tool prints it: as is, URL-encoded, base64, JSON-escaped. */
function variants(value: string): string[] {
  const forms = new Set<string>([value]);
  forms.add(encodeURIComponent(value));
  forms.add(JSON.stringify(value).slice(1, -1));
  const b64 = Buffer.from(value).toString("base64");
  forms.add(b64);
  // Unpadded, so it is found inside a longer base64 blob that starts with the value.
  forms.add(b64.replace(/=+$/, ""));
  forms.add(Buffer.from(value).toString("base64url").replace(/=+$/, ""));
  return [...forms].filter((f) => f.length >= MIN_KNOWN_SECRET_LENGTH);
}

/** The exact values to redact. Add to it while the session runs (e.g. a sandbox's env). */
export class KnownValues {
  #needles: Needle[] = [];
  readonly #seen = new Set<string>();
  /** Longest needle; the stream redactor holds back this much of a delta's tail at most. */
  #longest = 0;
  #version = 0;
  /** {@link KnownValues.texts}, made when first asked for after a change. */
  #texts: readonly string[] | undefined;

  /** Changes whenever a secret is added (caches of "this string is clean" depend on it). */
  get version(): number {
    return this.#version;
  }

  constructor(secrets: readonly KnownSecret[] = []) {
    for (const s of secrets) this.add(s.label, s.value);
  }

  /** Adds a secret; values shorter than {@link MIN_KNOWN_SECRET_LENGTH} are ignored. */
  add(label: string, value: string): void {
    if (typeof value !== "string" || value.length < MIN_KNOWN_SECRET_LENGTH) return;
    const l = sanitiseLabel(label);
    let added = false;
    for (const text of variants(value)) {
      if (this.#seen.has(text)) continue;
      this.#seen.add(text);
      this.#needles.push({ label: l, text });
      if (text.length > this.#longest) this.#longest = text.length;
      added = true;
    }
    // A value already held changes nothing: caches of clean strings (and the redactor's keyword scan
    // over the needles) stay valid, which matters when every sandbox start adds the same env again.
    if (!added) return;
    this.#version++;
    this.#texts = undefined;
    // Longest first, so a value that contains another is matched whole.
    this.#needles.sort((a, b) => b.text.length - a.text.length);
  }

  /**
   * Every form of every value held, as searched for (longest first). The redactor folds them into
   * its keyword scan, so a text that holds none is not searched once per needle.
   */
  get texts(): readonly string[] {
    this.#texts ??= Object.freeze(this.#needles.map((n) => n.text));
    return this.#texts;
  }

  get size(): number {
    return this.#needles.length;
  }

  get longest(): number {
    return this.#longest;
  }

  /** Every occurrence of every needle (a shared empty array when there is none). */
  find(text: string): readonly KnownHit[] {
    let hits: KnownHit[] | undefined;
    const needles = this.#needles;
    for (let i = 0; i < needles.length; i++) {
      const n = needles[i]!;
      let at = text.indexOf(n.text);
      while (at !== -1) {
        hits ??= [];
        hits.push({ label: n.label, start: at, end: at + n.text.length });
        at = text.indexOf(n.text, at + n.text.length);
      }
    }
    return hits ?? NO_HITS;
  }

  /**
   * How many characters at the end of `text` could be the start of a known secret that the next
   * chunk completes (so a streamed secret is never emitted in two halves).
   */
  partialSuffix(text: string): number {
    let hold = 0;
    for (const n of this.#needles) {
      const max = Math.min(n.text.length - 1, text.length);
      for (let k = max; k > hold; k--) {
        if (text.endsWith(n.text.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    return hold;
  }
}
