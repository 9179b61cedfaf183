import type { ApprovalDecision } from "../protocol/approval.js";
import type { RiskAssessment } from "../protocol/risk.js";
import { AUDIT_VERSION, canonicalData } from "./audit-record.js";

/**
 * The canonical body of the two records written per tool call (intent, tool_call), built as the
 * parts of a string (the writer encodes them without joining them). `JSON.stringify` of the record object (keys in sorted order) is the definition; this is
 * the same bytes without allocating the object and its nested objects per record, with the fields
 * that do not change within a run (alg, runId, sessionId, tenantId) escaped once. Any field of an
 * unexpected type makes it answer `undefined`, and the caller serialises the object instead
 * (tests/telemetry/audit-record-body.test.ts checks both agree).
 */

/** The fields that stay the same for a whole run, and their JSON. */
export interface RunFragments {
  readonly alg: string;
  readonly runId: string;
  readonly sessionId: string;
  readonly tenantId: string;
  readonly algJson: string;
  readonly runIdJson: string;
  readonly sessionIdJson: string;
  readonly tenantIdJson: string;
  /** The bodies' runs of text that hold only these fields, joined once per run (fewer parts per record). */
  readonly intentStart: string;
  readonly toolCallStart: string;
  readonly runIdToSeq: string;
  readonly sessionToTool: string;
}

export function runFragments(alg: string, runId: string, sessionId: string, tenantId: string): RunFragments {
  const algJson = JSON.stringify(alg);
  const runIdJson = JSON.stringify(runId);
  const sessionIdJson = JSON.stringify(sessionId);
  const tenantIdJson = JSON.stringify(tenantId);
  return {
    alg,
    runId,
    sessionId,
    tenantId,
    algJson,
    runIdJson,
    sessionIdJson,
    tenantIdJson,
    intentStart: `{"alg":${algJson},"callId":`,
    toolCallStart: `{"alg":${algJson},"approval":`,
    runIdToSeq: `,"runId":${runIdJson},"seq":`,
    sessionToTool: `,"sessionId":${sessionIdJson},"tenantId":${tenantIdJson},"tool":`,
  };
}

/** What a tool_call record holds, before serialisation (keys are given in canonical order by the builders). */
export interface ToolCallFields {
  readonly alg: string;
  readonly approval: ApprovalDecision | null;
  readonly callId: string;
  readonly sessionUsd: number;
  readonly turnUsd: number;
  readonly decision: "allow" | "deny";
  readonly durationMs: number;
  readonly executed: boolean;
  readonly index: number;
  readonly input: unknown;
  readonly originalInput: unknown;
  readonly bytes: number;
  readonly errorType: string | null;
  readonly ok: boolean;
  readonly summary: string;
  readonly prevHash: string;
  readonly risk: RiskAssessment | null;
  readonly runId: string;
  readonly seq: number;
  readonly sessionId: string;
  readonly tenantId: string;
  readonly tool: string;
  readonly ts: number;
  readonly turn: number;
}

export interface IntentFields {
  readonly alg: string;
  readonly callId: string;
  readonly index: number;
  readonly input: unknown;
  readonly prevHash: string;
  readonly runId: string;
  readonly seq: number;
  readonly sessionId: string;
  readonly tenantId: string;
  readonly tool: string;
  readonly ts: number;
}

/** The record object whose `JSON.stringify` is the canonical body (and what the size cap truncates). */
export function toolCallRecord(f: ToolCallFields): Record<string, unknown> {
  const risk = f.risk;
  return {
    alg: f.alg,
    approval: f.approval ? canonicalData(f.approval) : null,
    callId: f.callId,
    cost: { sessionUsd: f.sessionUsd, turnUsd: f.turnUsd },
    decision: f.decision,
    durationMs: f.durationMs,
    executed: f.executed,
    index: f.index,
    input: canonicalData(f.input),
    kind: "tool_call",
    ...(f.originalInput !== undefined ? { originalInput: canonicalData(f.originalInput) } : {}),
    output: { bytes: f.bytes, errorType: f.errorType, ok: f.ok, summary: f.summary },
    prevHash: f.prevHash,
    risk: risk === null ? null : { level: risk.level, reason: risk.reason, rule: risk.rule },
    runId: f.runId,
    seq: f.seq,
    sessionId: f.sessionId,
    tenantId: f.tenantId,
    tool: f.tool,
    ts: f.ts,
    turn: f.turn,
    v: AUDIT_VERSION,
  };
}

export function intentRecord(f: IntentFields): Record<string, unknown> {
  return {
    alg: f.alg,
    callId: f.callId,
    index: f.index,
    input: canonicalData(f.input),
    kind: "intent",
    prevHash: f.prevHash,
    runId: f.runId,
    seq: f.seq,
    sessionId: f.sessionId,
    tenantId: f.tenantId,
    tool: f.tool,
    ts: f.ts,
    v: AUDIT_VERSION,
  };
}

/** `JSON.stringify(canonicalData(value))`: the canonical JSON of a tool input or an approval. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonicalData(value));
}

/**
 * `JSON.stringify(toolCallRecord(f))`, or undefined when a field is not of its declared type.
 * `inputJson` / `originalJson`: the canonical JSON of `f.input` / `f.originalInput`, when the caller
 * already has it; `riskJson`: of `{ level, reason, rule }` of `f.risk`.
 */
export function toolCallBody(
  f: ToolCallFields,
  run: RunFragments,
  inputJson: string,
  originalJson: string | undefined,
  riskJson: string,
): string | undefined {
  const summary = typeof f.summary === "string" ? [JSON.stringify(f.summary)] : NO_SUMMARY;
  return toolCallBodyParts(f, run, inputJson, originalJson, riskJson, summary)?.join("");
}

/**
 * `toolCallBody` without its summary: the body is `head`, the JSON of `f.summary`, then `tail`.
 */
export function toolCallBodyAround(
  f: ToolCallFields,
  run: RunFragments,
  inputJson: string,
  originalJson: string | undefined,
  riskJson: string,
): { readonly head: string; readonly tail: string } | undefined {
  const parts = toolCallBodyParts(f, run, inputJson, originalJson, riskJson, NO_SUMMARY);
  if (parts === undefined) return undefined;
  return {
    head: parts.slice(0, TOOL_CALL_HEAD_PARTS).join(""),
    tail: parts.slice(TOOL_CALL_HEAD_PARTS + 2).join(""),
  };
}

const NO_SUMMARY: readonly string[] = Object.freeze([""]);
/** The parts of a tool_call body before its summary's two. */
const TOOL_CALL_HEAD_PARTS = 23;

/**
 * `toolCallBody` as the parts whose concatenation it is, never joined: the writer encodes them one
 * after the other into the line's bytes (`lineBytes`), so no string of the whole body is made per
 * record. `summary`: the JSON of `f.summary` in one or two parts (`summaryJsonParts`). Every part
 * is whole JSON text (no surrogate pair split between two parts).
 */
export function toolCallBodyParts(
  f: ToolCallFields,
  run: RunFragments,
  inputJson: string,
  originalJson: string | undefined,
  riskJson: string,
  summary: readonly string[],
): readonly string[] | undefined {
  if (
    f.alg !== run.alg ||
    f.runId !== run.runId ||
    f.sessionId !== run.sessionId ||
    f.tenantId !== run.tenantId ||
    typeof f.callId !== "string" ||
    typeof f.tool !== "string" ||
    typeof f.summary !== "string" ||
    (f.errorType !== null && typeof f.errorType !== "string") ||
    typeof f.ok !== "boolean" ||
    typeof f.executed !== "boolean" ||
    (f.decision !== "allow" && f.decision !== "deny") ||
    typeof f.sessionUsd !== "number" ||
    typeof f.turnUsd !== "number" ||
    typeof f.durationMs !== "number" ||
    typeof f.bytes !== "number" ||
    typeof f.index !== "number" ||
    typeof f.seq !== "number" ||
    typeof f.ts !== "number" ||
    typeof f.turn !== "number" ||
    typeof f.prevHash !== "string"
  )
    return undefined;
  const approval = f.approval ? canonicalJson(f.approval) : "null";
  const errorType = f.errorType === null ? "null" : JSON.stringify(f.errorType);
  const hex = isHash(f.prevHash);
  // One literal of a fixed length (TOOL_CALL_HEAD_PARTS, the summary's two slots, then the tail).
  return [
    run.toolCallStart,
    approval,
    ',"callId":',
    JSON.stringify(f.callId),
    ',"cost":{"sessionUsd":',
    num(f.sessionUsd),
    ',"turnUsd":',
    num(f.turnUsd),
    '},"decision":"',
    f.decision,
    '","durationMs":',
    num(f.durationMs),
    f.executed ? ',"executed":true,"index":' : ',"executed":false,"index":',
    num(f.index),
    ',"input":',
    inputJson,
    originalJson === undefined ? ',"kind":"tool_call"' : ',"kind":"tool_call","originalInput":',
    originalJson === undefined ? "" : originalJson,
    ',"output":{"bytes":',
    num(f.bytes),
    ',"errorType":',
    errorType,
    f.ok ? ',"ok":true,"summary":' : ',"ok":false,"summary":',
    summary[0]!,
    summary.length > 1 ? summary[1]! : "",
    hex ? '},"prevHash":"' : '},"prevHash":',
    hex ? f.prevHash : JSON.stringify(f.prevHash),
    hex ? '","risk":' : ',"risk":',
    riskJson,
    run.runIdToSeq,
    num(f.seq),
    run.sessionToTool,
    JSON.stringify(f.tool),
    ',"ts":',
    num(f.ts),
    ',"turn":',
    num(f.turn),
    VERSION_END,
  ];
}

/** ASCII, so a cut summary (and the record, the event and the span that carry it) stays a one-byte string. */
export const SUMMARY_CUT_MARK = "...";
const CUT_CLOSE = `${SUMMARY_CUT_MARK}"`;

/**
 * A tool result's summary (its first `maxChars` UTF-16 units, then `...` when it is longer) as JSON,
 * in parts whose concatenation is `JSON.stringify(summary)`: the cut mark is a part of its own.
 * (`JSON.stringify(a + "...")` is `JSON.stringify(a)` with `...` before its closing quote: `.` is
 * never escaped, and it cannot pair with a lone surrogate at the end of `a`.)
 */
export function summaryJsonParts(content: string, maxChars: number): readonly string[] {
  if (content.length <= maxChars) return [JSON.stringify(content)];
  const json = JSON.stringify(content.slice(0, maxChars));
  return [json.slice(0, -1), CUT_CLOSE];
}

/** The summary kept of a tool result: `summaryJsonParts`'s string. */
export function summaryOf(content: string, maxChars: number): string {
  return content.length > maxChars ? `${content.slice(0, maxChars)}${SUMMARY_CUT_MARK}` : content;
}

/** `JSON.stringify(intentRecord(f))`, or undefined when a field is not of its declared type. */
export function intentBody(f: IntentFields, run: RunFragments, inputJson: string): string | undefined {
  return intentBodyParts(f, run, inputJson)?.join("");
}

/** `intentBody` as the parts whose concatenation it is, never joined (see `toolCallBodyParts`). */
export function intentBodyParts(
  f: IntentFields,
  run: RunFragments,
  inputJson: string,
): readonly string[] | undefined {
  if (
    f.alg !== run.alg ||
    f.runId !== run.runId ||
    f.sessionId !== run.sessionId ||
    f.tenantId !== run.tenantId ||
    typeof f.callId !== "string" ||
    typeof f.tool !== "string" ||
    typeof f.index !== "number" ||
    typeof f.seq !== "number" ||
    typeof f.ts !== "number" ||
    typeof f.prevHash !== "string"
  )
    return undefined;
  const hex = isHash(f.prevHash);
  return [
    run.intentStart,
    JSON.stringify(f.callId),
    ',"index":',
    num(f.index),
    ',"input":',
    inputJson,
    hex ? ',"kind":"intent","prevHash":"' : ',"kind":"intent","prevHash":',
    hex ? f.prevHash : JSON.stringify(f.prevHash),
    hex ? '"' : "",
    run.runIdToSeq,
    num(f.seq),
    run.sessionToTool,
    JSON.stringify(f.tool),
    ',"ts":',
    num(f.ts),
    VERSION_END,
  ];
}

/** The bodies' last field and closing brace. */
const VERSION_END = `,"v":${AUDIT_VERSION}}`;

const HEX = /^[0-9a-f]*$/;

/** A hash in lower-case hex (the chain's `prevHash`): its JSON is itself in quotes, so no copy is made to quote it. */
function isHash(s: string): boolean {
  return s.length === 64 && HEX.test(s);
}

/** The JSON of `{ level, reason, rule }` of a risk assessment (`null` for none). */
export function riskJson(risk: RiskAssessment | null): string {
  return risk === null ? "null" : JSON.stringify({ level: risk.level, reason: risk.reason, rule: risk.rule });
}

/** A number as JSON.stringify writes it (non-finite numbers are null). */
function num(n: number): string {
  return Number.isFinite(n) ? `${n}` : "null";
}
