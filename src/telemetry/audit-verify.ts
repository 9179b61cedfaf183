import { readFileSync } from "node:fs";
import { AuditError } from "../protocol/errors.js";
import { GENESIS_HASH, hashRecord } from "./audit-record.js";

export type AuditVerification =
  | { readonly ok: true; readonly file: string; readonly records: number; readonly headHash: string }
  | {
      readonly ok: false;
      readonly file: string;
      readonly records: number;
      readonly line: number;
      readonly reason: string;
    };

/**
 * Checks an audit trail's hash chain: every record's hash matches its content, its `prevHash` is
 * the previous record's hash, and indexes run 0, 1, 2, … Detects edits, insertions, deletions and
 * reordering. Truncation at the end is detectable only against a head hash kept elsewhere.
 */
export function verifyAuditFile(file: string): AuditVerification {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new AuditError(
      "REIN_AUDIT_UNREADABLE",
      `Cannot read the audit trail ${file}: ${(err as Error).message}`,
      { file },
    );
  }
  const lines = text.split("\n");
  const partial = lines.pop();
  let prev = GENESIS_HASH;
  let index = 0;
  const fail = (line: number, reason: string): AuditVerification => ({
    ok: false,
    file,
    records: index,
    line,
    reason,
  });
  for (const [i, line] of lines.entries()) {
    const lineNo = i + 1;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return fail(lineNo, "not valid JSON");
    }
    if (record === null || typeof record !== "object" || Array.isArray(record))
      return fail(lineNo, "not a JSON object");
    const { hash, ...body } = record;
    if (typeof hash !== "string") return fail(lineNo, "no hash field");
    if (body.index !== index)
      return fail(
        lineNo,
        `index is ${JSON.stringify(body.index)}, expected ${index} (a record was removed or reordered)`,
      );
    if (body.prevHash !== prev)
      return fail(lineNo, "prevHash does not match the previous record's hash (the chain is broken)");
    if (hashRecord(JSON.stringify(body)) !== hash)
      return fail(lineNo, "the record's content does not match its hash (it was modified)");
    prev = hash;
    index++;
  }
  if (partial !== "")
    return fail(lines.length + 1, "the file ends with a partial record (no trailing newline)");
  return { ok: true, file, records: index, headHash: prev };
}
