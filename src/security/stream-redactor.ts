import type { SecretRedactor } from "./redactor.js";

/** Raw text kept from what was already emitted, so a rule that needs its key (`password=`) still matches. */
const CONTEXT_CHARS = 256;
/** A held-back tail longer than this is redacted and let through (a private-key block can be longer; its rule redacts a cut-off block too). */
const MAX_HOLD_CHARS = 16 * 1024;
const PEM_END = /-----END[ A-Z0-9]{0,40}-----/;

/**
 * Redacts text that arrives in pieces (a model's streamed deltas) so that no secret escapes split
 * across two pieces: it holds back the last unfinished token, any tail that could be the start of a
 * known secret, and an open private-key block, and emits the rest redacted. `flush()` emits what is
 * held when the stream ends. Concatenated, the output equals `redactor.redact(whole text)` up to where
 * a secret straddles the context window.
 *
 * @example
 * const stream = new StreamRedactor(redactor);
 * emit(stream.push("token sk-ant-api03-ab")); // "token "
 * emit(stream.push("cdef…xyz done"));          // "[REDACTED:anthropic_api_key:1] "
 * emit(stream.flush());                          // "done"
 */
export class StreamRedactor {
  readonly #redactor: SecretRedactor;
  #pending = "";
  #context = "";

  constructor(redactor: SecretRedactor) {
    this.#redactor = redactor;
  }

  /** Takes the next piece; returns what can be emitted now (possibly ""). */
  push(delta: string): string {
    this.#pending += delta;
    const cut = this.#safeCut(this.#pending);
    if (cut === 0) return "";
    const ready = this.#pending.slice(0, cut);
    this.#pending = this.#pending.slice(cut);
    return this.#emit(ready);
  }

  /** Everything still held, redacted. */
  flush(): string {
    const rest = this.#pending;
    this.#pending = "";
    return rest === "" ? "" : this.#emit(rest);
  }

  #safeCut(text: string): number {
    let cut = text.length;
    // Hold the last token: it may continue in the next delta.
    const ws = Math.max(text.lastIndexOf(" "), text.lastIndexOf("\n"), text.lastIndexOf("\t"));
    cut = ws + 1;
    // Hold a tail that could be the beginning of a known secret (which may contain spaces).
    const known = this.#redactor.known.partialSuffix(text);
    cut = Math.min(cut, text.length - known);
    // Hold an armored block (a private key, or what may become one) from its BEGIN until its whole
    // END line has arrived, so the block is redacted in one piece.
    const begin = text.lastIndexOf("-----BEGIN");
    if (begin !== -1 && !PEM_END.test(text.slice(begin))) cut = Math.min(cut, begin);
    if (text.length - cut > MAX_HOLD_CHARS) cut = text.length - MAX_HOLD_CHARS;
    return Math.max(0, cut);
  }

  #emit(part: string): string {
    const context = this.#context;
    const full = context + part;
    const spans = this.#redactor.spans(full);
    let out = "";
    let at = context.length;
    for (const s of spans) {
      if (s.end <= context.length) continue;
      const start = Math.max(s.start, context.length);
      const secret = full.slice(s.start, s.end);
      out += full.slice(at, start) + this.#redactor.placeholder(s.kind, s.source === "known" ? "" : secret);
      at = s.end;
    }
    out += full.slice(at);
    this.#context = full.slice(-CONTEXT_CHARS);
    return out;
  }
}
