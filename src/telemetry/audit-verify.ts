import { KeyObject } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from "node:fs";
import { AuditError } from "../protocol/errors.js";
import { type AuditKey, type AuditKeyHandle, auditKeyObject } from "./audit-key.js";
import {
  type AuditAlg,
  type ChainHasher,
  chainHasher,
  GENESIS_HASH,
  sortKeysDeep,
  splitLine,
} from "./audit-record.js";

export interface VerifyAuditOptions {
  /** The trail's HMAC key. Required for a keyed trail; given for an unkeyed one, verification fails (it could be recomputed). */
  readonly key?: AuditKey | AuditKeyHandle;
  /** The head hash kept elsewhere (e.g. from the run's summary): the trail must end exactly there. */
  readonly head?: string;
}

/** What every verdict reports about the part of the chain that verified. */
interface ChainSummary {
  readonly file: string;
  /** Tool-call records verified. */
  readonly records: number;
  /** Seal records verified. */
  readonly seals: number;
  /** Hash of the last record verified (`GENESIS_HASH` if none): keep it elsewhere to detect truncation later. */
  readonly headHash: string;
  /** The chain's algorithm (`null` before any v2 record). */
  readonly alg: AuditAlg | null;
}

/**
 * The verdict on an audit trail. `ok` only for `sealed` (the chain is intact and ends with a seal)
 * and `v1` (a trail of format v1, which had no seals). Every other status says what is wrong:
 * `unsealed` (records after the last seal: cut after a seal, or the writer crashed), `truncated`
 * (a partial last line), `tampered` (a line that does not verify), `empty`, `key_required` (a keyed
 * trail checked without its key), `unkeyed` (a key was given but the trail is not keyed),
 * `head_mismatch` (it does not end at the expected head).
 */
export type AuditVerification =
  | (ChainSummary & { readonly ok: true; readonly status: "sealed" | "v1" })
  | (ChainSummary & {
      readonly ok: false;
      readonly status: "unsealed";
      readonly unsealedRecords: number;
      /**
       * Calls with an `intent` record (written before the tool ran) and no record of how they ended:
       * the writer died while they ran, so whatever they did is not in a tool-call record. Present
       * only when there are any.
       */
      readonly startedWithoutRecord?: readonly { readonly callId: string; readonly tool: string }[];
      readonly reason: string;
    })
  | (ChainSummary & {
      readonly ok: false;
      readonly status: "head_mismatch";
      readonly expectedHead: string;
      readonly reason: string;
    })
  | (ChainSummary & { readonly ok: false; readonly status: "empty"; readonly reason: string })
  | (ChainSummary & {
      readonly ok: false;
      readonly status: "tampered" | "truncated" | "key_required" | "unkeyed";
      /** 1-based line of the first problem. */
      readonly line: number;
      readonly reason: string;
    });

export type AuditStatus = AuditVerification["status"];

/**
 * Checks an audit trail: every line is exactly the canonical bytes the writer produces, its hash
 * (or HMAC) matches, its `prevHash` is the previous record's hash, indexes run 0, 1, 2, … and the
 * trail ends with a seal. Detects edits, insertions, deletions, reordering, re-encoding, a cut
 * between seals, a partial last line and an emptied file; a cut exactly after a seal is detected
 * only against a head kept elsewhere (`options.head`). Refuses to read anything but a regular file
 * (a symlink, FIFO or device is an `AuditError`).
 *
 * @example
 * const verdict = verifyAuditFile(".rein/audit/ses_1.jsonl", { key: process.env.REIN_AUDIT_KEY });
 * if (!verdict.ok) console.error(verdict.status, verdict.reason);
 */
export function verifyAuditFile(file: string, options: VerifyAuditOptions = {}): AuditVerification {
  return inspectAuditBytes(readAuditFile(file), file, options).verdict;
}

/**
 * Verifies a trail given as text, e.g. an in-memory trail's `text()`.
 *
 * @example
 * const verdict = verifyAuditText(harness.auditTrail(session.id)!.text());
 * if (!verdict.ok) throw new Error(verdict.reason);
 */
export function verifyAuditText(text: string, options: VerifyAuditOptions = {}): AuditVerification {
  return inspectAuditBytes(Buffer.from(text, "utf8"), "(in-memory audit trail)", options).verdict;
}

/** @internal Reads a trail by descriptor: no symlink is followed, and only a regular file is read. */
export function readAuditFile(file: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ELOOP" || code === "EMLINK")
      throw new AuditError(
        "REIN_AUDIT_UNREADABLE",
        `Cannot read the audit trail ${file}: it is a symbolic link. Audit trails are read only as regular files; pass the file itself.`,
        { file },
      );
    throw new AuditError(
      "REIN_AUDIT_UNREADABLE",
      `Cannot read the audit trail ${file}: ${(err as Error).message}`,
      { file },
    );
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile())
      throw new AuditError(
        "REIN_AUDIT_UNREADABLE",
        `Cannot read the audit trail ${file}: it is ${kindOf(stats)}, not a regular file.`,
        { file },
      );
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** @internal */
export function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return "a device";
  if (stats.isDirectory()) return "a directory";
  if (stats.isSocket()) return "a socket";
  if (stats.isSymbolicLink()) return "a symbolic link";
  return "not a regular file";
}

/** @internal The verdict plus what a writer needs to continue the chain (used by `AuditTrail` when it reopens a file). */
export interface AuditInspection {
  readonly verdict: AuditVerification;
  /** The index the next record gets. */
  readonly nextIndex: number;
  /** The bytes of the last complete line, newline included (empty when there is none). */
  readonly lastLine: Buffer;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** @internal Verifies the bytes of a trail. `file` only names it in the verdict. */
export function inspectAuditBytes(
  bytes: Buffer,
  file: string,
  options: VerifyAuditOptions = {},
): AuditInspection {
  const key =
    options.key === undefined || options.key instanceof KeyObject
      ? options.key
      : auditKeyObject(options.key as AuditKey, "the audit key");
  const keyed = chainHasher(key);
  const unkeyed = chainHasher(undefined);
  let prev = GENESIS_HASH;
  let index = 0;
  let records = 0;
  let seals = 0;
  let alg: AuditAlg | null = null;
  /** Index of the last record that closes the chain so far: a seal, or a v1 record (v1 had no seals). */
  let lastClosed = -1;
  let lastWasV1 = false;
  let lastLine: Buffer = Buffer.alloc(0);
  /** Intents not yet followed by their call's record, by call id. */
  const started = new Map<string, string>();
  const summary = (): ChainSummary => ({ file, records, seals, headHash: prev, alg });
  const stop = (
    line: number,
    status: "tampered" | "truncated" | "key_required" | "unkeyed",
    reason: string,
  ): AuditInspection => ({
    verdict: { ok: false, status, line, reason, ...summary() },
    nextIndex: index,
    lastLine,
  });

  if (bytes.length === 0) {
    return {
      verdict: {
        ok: false,
        status: "empty",
        reason:
          "the file is empty; a trail always ends with a seal, so it was emptied or its writer crashed before its first record",
        ...summary(),
      },
      nextIndex: 0,
      lastLine,
    };
  }
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return stop(1, "tampered", "the file starts with a UTF-8 byte-order mark, which the writer never writes");

  let start = 0;
  let lineNo = 0;
  for (let end = bytes.indexOf(0x0a, start); end !== -1; end = bytes.indexOf(0x0a, start)) {
    lineNo++;
    const raw = bytes.subarray(start, end);
    let line: string;
    try {
      line = utf8.decode(raw);
    } catch {
      return stop(lineNo, "tampered", "the line is not valid UTF-8");
    }
    const problem = checkLine(line, index, prev);
    if (typeof problem === "string") return stop(lineNo, "tampered", problem);
    const { record, hash, body } = problem;
    const v2 = record.v === 2;
    if (!v2 && alg !== null)
      return stop(lineNo, "tampered", "a format v1 record follows a v2 record; the writer never goes back");
    const recordAlg: AuditAlg = v2 ? (record.alg as AuditAlg) : "sha256";
    if (v2) {
      if (record.alg !== "sha256" && record.alg !== "hmac-sha256")
        return stop(lineNo, "tampered", `unknown alg ${JSON.stringify(record.alg)}`);
      if (alg !== null && record.alg !== alg)
        return stop(
          lineNo,
          "tampered",
          `alg changes from ${alg} to ${record.alg}; a chain keeps one algorithm`,
        );
      alg = recordAlg;
    }
    if (recordAlg === "hmac-sha256" && key === undefined)
      return stop(
        lineNo,
        "key_required",
        "the trail is keyed (hmac-sha256) and no key was given; verify it with its key (REIN_AUDIT_KEY, or `rein audit verify --key-env VAR`)",
      );
    if (recordAlg === "sha256" && key !== undefined)
      return stop(
        lineNo,
        "unkeyed",
        `a key was given but this record is not keyed (${v2 ? "alg sha256" : "format v1"}); anyone who can write the file can recompute an unkeyed chain`,
      );
    const hasher: ChainHasher = recordAlg === "sha256" ? unkeyed : keyed;
    if (hasher.digest(body) !== hash)
      return stop(
        lineNo,
        "tampered",
        recordAlg === "sha256"
          ? "the record's content does not match its hash (it was modified)"
          : "the record's content does not match its hash (HMAC-SHA256: it was modified, or this is not its key)",
      );
    if (!v2 || record.kind === "tool_call") {
      records++;
      started.delete(String(record.callId));
    } else if (record.kind === "intent") {
      started.set(String(record.callId), String(record.tool));
    } else if (record.kind === "seal") {
      if (record.reason !== "run_ended" && record.reason !== "session_ended")
        return stop(lineNo, "tampered", `a seal with unknown reason ${JSON.stringify(record.reason)}`);
      if (record.records !== records || record.head !== prev)
        return stop(
          lineNo,
          "tampered",
          `the seal says ${JSON.stringify(record.records)} records ending at ${JSON.stringify(record.head)}, but the chain has ${records} ending at ${prev}`,
        );
      seals++;
    } else {
      return stop(lineNo, "tampered", `unknown record kind ${JSON.stringify(record.kind)}`);
    }
    if (!v2 || record.kind === "seal") lastClosed = index;
    lastWasV1 = !v2;
    lastLine = bytes.subarray(start, end + 1);
    prev = hash;
    index++;
    start = end + 1;
  }

  if (start < bytes.length)
    return stop(
      lineNo + 1,
      "truncated",
      "the file ends with a partial record (no trailing newline): it was cut, or its writer crashed mid-write",
    );
  const done = (verdict: AuditVerification): AuditInspection => ({ verdict, nextIndex: index, lastLine });
  if (options.head !== undefined && options.head !== prev)
    return done({
      ok: false,
      status: "head_mismatch",
      expectedHead: options.head,
      reason: `the trail ends at ${prev}, not at the expected head ${options.head}: records were removed from its end, or added after it`,
      ...summary(),
    });
  const unsealed = index - 1 - lastClosed;
  if (unsealed > 0) {
    const open = [...started].map(([callId, tool]) => ({ callId, tool }));
    const what =
      open.length === 0
        ? ""
        : `; ${open.length} call${open.length === 1 ? "" : "s"} started and ha${open.length === 1 ? "s" : "ve"} no record of how ${open.length === 1 ? "it" : "they"} ended (${open.map((o) => `${o.tool} ${o.callId}`).join(", ")})`;
    return done({
      ok: false,
      status: "unsealed",
      unsealedRecords: unsealed,
      ...(open.length > 0 ? { startedWithoutRecord: open } : {}),
      reason: `the last ${unsealed} record${unsealed === 1 ? "" : "s"} follow${unsealed === 1 ? "s" : ""} no seal: the trail was cut after a seal, or its writer crashed before sealing${what}`,
      ...summary(),
    });
  }
  return done({ ok: true, status: lastWasV1 ? "v1" : "sealed", ...summary() });
}

type ParsedLine = { record: Record<string, unknown>; hash: string; body: string };

/** Checks one line's shape, canonical bytes and links; returns the problem, or the parsed record. */
function checkLine(line: string, index: number, prev: string): string | ParsedLine {
  if (line.endsWith("\r")) return "the line ends with a carriage return (CRLF): the file was rewritten";
  const split = splitLine(line);
  if (split === undefined) return shapeProblem(line);
  let record: unknown;
  try {
    record = JSON.parse(split.body);
  } catch {
    return "not valid JSON";
  }
  if (record === null || typeof record !== "object" || Array.isArray(record)) return "not a JSON object";
  const r = record as Record<string, unknown>;
  if (r.v !== 1 && r.v !== 2) return `unknown format version ${JSON.stringify(r.v)}`;
  // The bytes must be exactly what the writer produces: this refuses re-encoded escapes, duplicate
  // or reordered keys and stray whitespace, which a parse-then-hash check would let through.
  const canonical = r.v === 1 ? JSON.stringify(r) : JSON.stringify(sortKeysDeep(r));
  if (canonical !== split.body) {
    let col = 0;
    while (col < canonical.length && canonical[col] === split.body[col]) col++;
    return `the line is not in the writer's canonical form (from column ${col + 1}): re-encoded escapes, reordered or duplicate keys, or extra whitespace`;
  }
  if (r.index !== index)
    return `index is ${JSON.stringify(r.index)}, expected ${index} (a record was removed or reordered)`;
  if (r.prevHash !== prev) return "prevHash does not match the previous record's hash (the chain is broken)";
  return { record: r, hash: split.hash, body: split.body };
}

function shapeProblem(line: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return "not valid JSON";
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return "not a JSON object";
  if (typeof (parsed as { hash?: unknown }).hash !== "string") return "no hash field";
  return "the line is not in the writer's canonical form: the hash must be the last field, as 64 hex digits, with no whitespace";
}
