import { AuditError } from "../protocol/errors.js";
import { type AuditTruncation, sha256Hex, sortKeysDeep } from "./audit-record.js";

/** Default cap of one audit record (its whole line). */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024;
/** Bounds of the cap: below 4 KiB the fixed fields and truncation markers may not fit. */
export const MIN_MAX_RECORD_BYTES = 4 * 1024;
export const MAX_MAX_RECORD_BYTES = 16 * 1024 * 1024;

/** What `lineOf` adds to a body: `,"hash":"<64 hex>"}` and a newline, minus the body's closing brace. */
const LINE_OVERHEAD = 75;

/** Fields whose size comes from outside (model, tools, policies, gates), largest truncated first. */
const CAPPABLE: readonly (readonly string[])[] = [
  ["input"],
  ["output", "summary"],
  ["output", "errorType"],
  ["approval"],
  ["risk", "reason"],
  ["risk", "rule"],
  ["callId"],
  ["tool"],
];

/**
 * Serialises a record body (keys already in canonical order) and, when its line would pass
 * `maxBytes`, replaces the largest outside-supplied fields, largest first, with a prefix (of the
 * string, or of the JSON of a non-string), listing each in `truncated` with its original size and
 * sha256. A trail whose records are capped can always be reopened and verified.
 */
export function capRecord(record: Record<string, unknown>, maxBytes: number): string {
  let body = JSON.stringify(record);
  if (Buffer.byteLength(body) + LINE_OVERHEAD <= maxBytes) return body;

  const marks: AuditTruncation[] = [];
  const fields = CAPPABLE.map((path) => {
    const value = getPath(record, path);
    const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "null");
    return { path, text, bytes: Buffer.byteLength(text) };
  })
    .filter((f) => f.bytes > 64)
    .sort((a, b) => b.bytes - a.bytes);
  // A marker costs about 150 bytes; reserve room for all of them up front so the loop converges.
  const reserve = 160 * fields.length;
  for (const f of fields) {
    const over = Buffer.byteLength(body) + LINE_OVERHEAD + reserve - maxBytes;
    if (over <= 0) break;
    const current = Buffer.byteLength(JSON.stringify(getPath(record, f.path)) ?? "null");
    setPath(record, f.path, jsonStringPrefix(f.text, Math.max(2, current - over)));
    marks.push({ field: f.path.join("."), originalBytes: f.bytes, sha256: sha256Hex(f.text) });
    record.truncated = marks;
    body = JSON.stringify(sortKeysDeep(record));
  }
  if (Buffer.byteLength(body) + LINE_OVERHEAD > maxBytes) {
    throw new AuditError(
      "REIN_AUDIT_WRITE_FAILED",
      `An audit record cannot be brought under the record cap of ${maxBytes} bytes (${Buffer.byteLength(body) + LINE_OVERHEAD} after truncating every variable field); raise audit.maxRecordBytes.`,
      { maxRecordBytes: maxBytes },
    );
  }
  return body;
}

/** The longest prefix of `text` whose JSON string form takes at most `maxBytes` bytes. */
function jsonStringPrefix(text: string, maxBytes: number): string {
  let chars = Math.min(text.length, maxBytes);
  for (;;) {
    let prefix = text.slice(0, chars);
    const last = prefix.charCodeAt(prefix.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) prefix = prefix.slice(0, -1); // never split a surrogate pair
    const size = Buffer.byteLength(JSON.stringify(prefix));
    if (size <= maxBytes || chars === 0) return prefix;
    chars = Math.max(0, Math.min(chars - 1, Math.floor((chars * maxBytes) / size) - 1));
  }
}

function getPath(record: Record<string, unknown>, path: readonly string[]): unknown {
  let v: unknown = record;
  for (const key of path)
    v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

function setPath(record: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let target = record;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[path.at(-1)!] = value;
}
