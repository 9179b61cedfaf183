import { createHmac, hash, type KeyObject } from "node:crypto";
import type { ApprovalDecision } from "../protocol/approval.js";
import type { RiskAssessment } from "../protocol/risk.js";

/** The format the writer produces. Version 1 trails (no seals, no `kind`, no `alg`) still verify. */
export const AUDIT_VERSION = 2;
/** `prevHash` of the first record of a chain. */
export const GENESIS_HASH = "0".repeat(64);

/** `sha256`: anyone can recompute the chain. `hmac-sha256`: only a holder of the key can. */
export type AuditAlg = "sha256" | "hmac-sha256";

/** A field the writer shortened to keep the record under the size cap. */
export interface AuditTruncation {
  /** Dotted path of the field (`input`, `output.summary`, `risk.reason`, …); its value became a prefix of its JSON. */
  readonly field: string;
  /** UTF-8 bytes of the field's JSON before truncation. */
  readonly originalBytes: number;
  /** sha256 of the field's full JSON, to match it against a copy kept elsewhere. */
  readonly sha256: string;
}

interface AuditRecordBase {
  readonly v: typeof AUDIT_VERSION;
  readonly alg: AuditAlg;
  /** Position in this chain, from 0, counting every record (tool calls and seals). */
  readonly index: number;
  readonly ts: number;
  readonly tenantId: string;
  readonly sessionId: string;
  readonly runId: string;
  /** `seq` of the event this record was derived from. */
  readonly seq: number;
  readonly prevHash: string;
  /** sha256 (or HMAC-SHA256 with the trail's key) of the record's bytes without the `hash` field. */
  readonly hash: string;
}

/** One audit record: one tool call, whatever became of it. */
export interface AuditToolCallRecord extends AuditRecordBase {
  readonly kind: "tool_call";
  readonly turn: number;
  readonly callId: string;
  readonly tool: string;
  /** The input the tool ran with (for a call that did not run: the model's); truncated, a prefix of its JSON. */
  readonly input: unknown;
  /** The model's input, when a `rewriteToolInput` hook replaced it before classification. */
  readonly originalInput?: unknown;
  readonly output: {
    readonly ok: boolean;
    readonly errorType: string | null;
    readonly bytes: number;
    readonly summary: string;
  };
  readonly risk: RiskAssessment | null;
  readonly decision: "allow" | "deny";
  readonly approval: ApprovalDecision | null;
  readonly executed: boolean;
  readonly durationMs: number;
  /** Cost of the model call that requested this tool call, and of the session so far. */
  readonly cost: { readonly turnUsd: number; readonly sessionUsd: number };
  /** Present only when the record hit the size cap. */
  readonly truncated?: readonly AuditTruncation[];
}

/**
 * Written when a call of a tool that can change something is about to run, and durable before it
 * runs: a trail whose writer died during the call still says the call started. Its `tool_call`
 * record follows when the call ends.
 */
export interface AuditIntentRecord extends AuditRecordBase {
  readonly kind: "intent";
  readonly callId: string;
  readonly tool: string;
  /** The input the tool runs with; truncated like a tool call's. */
  readonly input: unknown;
  readonly truncated?: readonly AuditTruncation[];
}

/** Written when a run ends and when a session ends: the chain up to here is complete. */
export interface AuditSealRecord extends AuditRecordBase {
  readonly kind: "seal";
  readonly reason: "run_ended" | "session_ended";
  /** Tool-call records in the chain before this seal. */
  readonly records: number;
  /** Hash of the record before this seal (the head it seals; equal to `prevHash`). */
  readonly head: string;
}

/** A record of the current format (v2). */
export type AuditRecord = AuditToolCallRecord | AuditSealRecord;

/** Any line of a v2 trail: a tool call, a seal, or the intent written before a call that can change something. */
export type AuditLine = AuditRecord | AuditIntentRecord;

/** A record of format v1 (tool calls only, sha256 only). */
export interface AuditRecordV1 extends Omit<AuditToolCallRecord, "v" | "alg" | "kind" | "truncated"> {
  readonly v: 1;
}

/** @internal How a chain's hashes are made: plain sha256, or HMAC-SHA256 with a key. */
export interface ChainHasher {
  readonly alg: AuditAlg;
  /** The hash of a body: its UTF-8 bytes, or a string (hashed as UTF-8). */
  digest(body: string | Uint8Array): string;
}

/** @internal */
export function chainHasher(key: KeyObject | undefined): ChainHasher {
  if (key === undefined) return { alg: "sha256", digest: (body) => hash("sha256", body, "hex") };
  return {
    alg: "hmac-sha256",
    digest: (body) => createHmac("sha256", key).update(body).digest("hex"),
  };
}

/** sha256 of a string, hex. */
export function sha256Hex(text: string): string {
  return hash("sha256", text, "hex");
}

/**
 * A copy of a JSON value with every object's keys in sorted order. `JSON.stringify` of it is the
 * canonical form of a v2 record: no whitespace, `JSON.stringify`'s escapes, sorted keys (array-index
 * keys first, in numeric order, as JavaScript orders them). Objects are null-prototype so that a
 * `__proto__` key stays a key.
 */
export function sortKeysDeep(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  const out = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(value).sort())
    out[key] = sortKeysDeep((value as Record<string, unknown>)[key]);
  return out;
}

/** A foreign value (tool input, approval) as canonical JSON data; `{ unserialisable: true }` if it is not JSON. */
export function canonicalData(value: unknown): unknown {
  // Model input is plain JSON data: copy it sorted in one walk. Anything else (toJSON, undefined,
  // class instances, non-finite numbers, deep nesting) goes through JSON first, as JSON.stringify sees it.
  const plain = sortedPlainCopy(value, 0);
  if (plain !== NOT_PLAIN) return plain;
  try {
    const json = JSON.stringify(value);
    return json === undefined ? null : sortKeysDeep(JSON.parse(json));
  } catch {
    return { unserialisable: true };
  }
}

const NOT_PLAIN = Symbol("not plain JSON data");

function sortedPlainCopy(value: unknown, depth: number): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : NOT_PLAIN;
  if (typeof value !== "object" || depth > 64) return NOT_PLAIN;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = sortedPlainCopy(value[i], depth + 1);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      out[i] = item;
    }
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
  // A plain object keeps JSON.stringify on V8's fast path (a null-prototype one falls off it, several
  // µs per record); a "__proto__" key is defined as an own property, never assigned as a prototype.
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const item = sortedPlainCopy((value as Record<string, unknown>)[key], depth + 1);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    if (key === "__proto__")
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item;
  }
  return out;
}

const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;

/** The line written for a record body (canonical JSON without `hash`): the hash goes last. */
export function lineOf(body: string, digest: string): string {
  return `${body.slice(0, -1)},"hash":"${digest}"}\n`;
}

/** Splits a line (without its newline) into the body that was hashed and the hash, or undefined. */
export function splitLine(line: string): { body: string; hash: string } | undefined {
  const m = HASH_SUFFIX.exec(line);
  if (!m || m.index === 0) return undefined;
  return { body: `${line.slice(0, m.index)}}`, hash: m[1]! };
}
