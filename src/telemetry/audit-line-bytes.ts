import type { ChainHasher } from "./audit-record.js";

/**
 * A record's line as bytes, made once: the body is encoded to UTF-8 once, hashed as those bytes, and
 * the same bytes (with the hash appended in place) are what the writer writes. Nothing re-encodes the
 * line or counts its bytes again (`Buffer.byteLength`, `writeSync` of a string and `hash` of a string
 * each encoded it anew), and the bytes that were hashed are, by construction, the bytes written.
 */
export interface LineBytes {
  /** `lineOf(body, digest)` as UTF-8: the body without its closing brace, `,"hash":"<digest>"}` and a newline. */
  readonly bytes: Uint8Array;
  /** The hash of the body's bytes (the record's `hash`, the next record's `prevHash`). */
  readonly digest: string;
}

/**
 * Lines are carved from a shared slab, one after the other (the bytes of a line never change once
 * made), so consecutive lines of one file are usually adjacent in memory and go out in one write
 * (see `CommitFile.append`). A new slab replaces a full one; the old one is collected once no queued
 * line refers to it (a trail keeps a copy of its last line when it goes idle, never a slab view).
 */
const SLAB_BYTES = 64 * 1024;
/** Bodies that may need more than this go to a buffer of their own (a slab holds many lines). */
const OWN_BUFFER_FROM = SLAB_BYTES / 8;
/** `,"hash":"` + 64 hex digits + `"}\n` replace the body's closing brace: 76 bytes for 1. */
const SUFFIX_GROWTH = 75;
const HASH_KEY = Buffer.from(',"hash":"', "latin1");
const QUOTE = 0x22;
const CLOSE_BRACE = 0x7d;
const NEWLINE = 0x0a;

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;

/**
 * Encodes a record body (canonical JSON ending with `}`, given whole or as parts to be concatenated,
 * each of them whole UTF-16: no surrogate pair split between two parts) and the hash of its bytes
 * into the line written to the trail. The bytes are exactly `Buffer.from(lineOf(body, digest))`.
 */
export function lineBytes(body: string | readonly string[], hasher: ChainHasher): LineBytes {
  let chars = 0;
  if (typeof body === "string") chars = body.length;
  else for (let i = 0; i < body.length; i++) chars += body[i]!.length;
  // A UTF-16 code unit is at most 3 UTF-8 bytes: room for the worst case, without counting first.
  const room = chars * 3 + SUFFIX_GROWTH;
  let buffer: Buffer;
  let start: number;
  if (room > OWN_BUFFER_FROM) {
    let bytes = 0;
    if (typeof body === "string") bytes = Buffer.byteLength(body);
    else for (let i = 0; i < body.length; i++) bytes += Buffer.byteLength(body[i]!);
    buffer = Buffer.allocUnsafeSlow(bytes + SUFFIX_GROWTH);
    start = 0;
  } else {
    if (SLAB_BYTES - used < room) {
      slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      used = 0;
    }
    buffer = slab;
    start = used;
  }
  let end = start;
  if (typeof body === "string") end += buffer.write(body, end, "utf8");
  else for (let i = 0; i < body.length; i++) end = writePart(buffer, body[i]!, end);
  if (end === start || buffer[end - 1] !== CLOSE_BRACE)
    throw new TypeError("internal: an audit record body must be a JSON object");
  const digest = hasher.digest(buffer.subarray(start, end));
  // The closing brace becomes `,"hash":"<digest>"}` and the newline.
  let at = end - 1;
  buffer.set(HASH_KEY, at);
  at += HASH_KEY.length;
  at += buffer.write(digest, at, "latin1");
  buffer[at++] = QUOTE;
  buffer[at++] = CLOSE_BRACE;
  buffer[at++] = NEWLINE;
  if (buffer === slab) used = at;
  return { bytes: buffer.subarray(start, at), digest };
}

/** Parts up to this many UTF-16 units are copied by `writePart`'s loop when they are ASCII. */
const SHORT_PART = 24;

/**
 * Writes `part` as UTF-8 at `at`; returns the offset after it. A body comes in dozens of parts, most
 * of them a few ASCII characters (a key, a number): copying those in a loop costs less than a call
 * of `buffer.write` each (which crosses into C++). Anything else (longer, or with a character past
 * ASCII, lone surrogates included) goes to `buffer.write`, from the part's start: the same bytes.
 */
function writePart(buffer: Buffer, part: string, at: number): number {
  const n = part.length;
  if (n <= SHORT_PART) {
    let i = 0;
    for (; i < n; i++) {
      const c = part.charCodeAt(i);
      if (c >= 0x80) break;
      buffer[at + i] = c;
    }
    if (i === n) return at + n;
  }
  return at + buffer.write(part, at, "utf8");
}
