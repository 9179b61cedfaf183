import { AuditError } from "../protocol/errors.js";
import { type AuditTruncation, sha256Hex, sortKeysDeep } from "./audit-record.js";

/** Default cap of one audit record (its whole line). */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024;
/** Bounds of the cap: below 4 KiB the fixed fields and truncation markers may not fit. */
export const MIN_MAX_RECORD_BYTES = 4 * 1024;
export const MAX_MAX_RECORD_BYTES = 16 * 1024 * 1024;

/** What `lineOf` adds to a body: `,"hash":"<64 hex>"}` and a newline, minus the body's closing brace. */
export const LINE_OVERHEAD = 75;
/** Room kept for one `truncated` entry: `{"field":"output.errorType","originalBytes":<up to 16 digits>,"sha256":"<64 hex>"},`. */
const MARKER_BYTES = 160;

/** Fields whose size comes from outside (model, tools, policies, gates), largest truncated first. */
const CAPPABLE: readonly (readonly string[])[] = [
  ["input"],
  ["originalInput"],
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
 * `maxBytes`, shares the room left by the fixed fields among the outside-supplied ones: fields that
 * fit their share stay whole, the others become a prefix (of the string, or of the JSON of a
 * non-string), each listed in `truncated` with its original size and sha256. A trail whose records
 * are capped can always be reopened and verified.
 */
export function capRecord(record: Record<string, unknown>, maxBytes: number): string {
  const body = JSON.stringify(record);
  if (fitsCap(body, maxBytes)) return body;
  const bodyBytes = Buffer.byteLength(body);

  const fields = CAPPABLE.filter((path) => getPath(record, path) !== undefined)
    .map((path) => {
      const value = getPath(record, path);
      const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "null");
      const serialised = Buffer.byteLength(JSON.stringify(value) ?? "null");
      return { path, text, serialised, budget: undefined as number | undefined };
    })
    .sort((a, b) => a.serialised - b.serialised);
  const fixed = bodyBytes - fields.reduce((sum, f) => sum + f.serialised, 0);
  // Room for the values, after the fixed fields and a marker (~150 bytes) for every field that may be cut.
  let available = maxBytes - LINE_OVERHEAD - fixed - MARKER_BYTES * fields.length;
  let left = fields.length;
  for (const f of fields) {
    const share = Math.floor(available / left--);
    if (f.serialised > share) f.budget = Math.max(2, share);
    available -= Math.min(f.serialised, share);
  }
  const marks: AuditTruncation[] = [];
  for (const f of fields) {
    if (f.budget === undefined) continue;
    setPath(record, f.path, jsonStringPrefix(f.text, f.budget));
    marks.push({
      field: f.path.join("."),
      originalBytes: Buffer.byteLength(f.text),
      sha256: sha256Hex(f.text),
    });
  }
  record.truncated = marks;
  const capped = JSON.stringify(sortKeysDeep(record));
  if (Buffer.byteLength(capped) + LINE_OVERHEAD > maxBytes) {
    throw new AuditError(
      "REIN_AUDIT_WRITE_FAILED",
      `An audit record cannot be brought under the record cap of ${maxBytes} bytes (${Buffer.byteLength(capped) + LINE_OVERHEAD} after truncating every variable field); raise audit.maxRecordBytes.`,
      { maxRecordBytes: maxBytes },
    );
  }
  return capped;
}

/** Whether the line of this record body stays within `maxBytes`. */
export function fitsCap(body: string, maxBytes: number): boolean {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most records are under the cap without counting.
  return body.length * 3 + LINE_OVERHEAD <= maxBytes || Buffer.byteLength(body) + LINE_OVERHEAD <= maxBytes;
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
