import { createSecretKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { lineBytes } from "../../src/telemetry/audit-line-bytes.js";
import { chainHasher, lineOf } from "../../src/telemetry/audit-record.js";
import {
  canonicalJson,
  type IntentFields,
  intentBody,
  intentBodyParts,
  intentRecord,
  riskJson,
  runFragments,
  summaryJsonParts,
  summaryOf,
  type ToolCallFields,
  toolCallBody,
  toolCallBodyParts,
  toolCallRecord,
} from "../../src/telemetry/audit-record-body.js";

const base: ToolCallFields = {
  alg: "sha256",
  approval: null,
  callId: "toolu_1_0",
  sessionUsd: 0,
  turnUsd: 0,
  decision: "allow",
  durationMs: 0.347,
  executed: true,
  index: 3,
  input: {},
  originalInput: undefined,
  bytes: 2,
  errorType: null,
  ok: true,
  summary: "ok",
  prevHash: "a".repeat(64),
  risk: { level: "LOW", reason: "does nothing", rule: "tool-profile:noop" },
  runId: "run_1",
  seq: 8,
  sessionId: "ses_1",
  tenantId: "local",
  tool: "noop",
  ts: 1796025212887,
  turn: 1,
};

const odd = 'quote " backslash \\ newline \n tab \t nul \u0000 del \u007f lone \ud800 pair 😀 bidi \u202e é';
const variants: Partial<ToolCallFields>[] = [
  {},
  { alg: "hmac-sha256" },
  { callId: odd, tool: odd, summary: odd, errorType: odd, runId: odd, sessionId: odd, tenantId: odd },
  { input: { z: 1, a: [3, { y: null, b: "x" }], m: { "10": 1, "2": 2, b: true } } },
  { input: JSON.parse('{"__proto__":{"x":1},"constructor":2}') },
  { input: { when: new Date(0), big: 1e21, small: 1e-7, neg: -0 } },
  { input: [1, "two", [3]], originalInput: { raw: "the model's" } },
  { input: undefined, originalInput: null },
  { input: { f: Number.NaN, g: Number.POSITIVE_INFINITY } },
  { sessionUsd: 0.000123, turnUsd: 1e-9, durationMs: 12345.678, index: 0, seq: 2 ** 40, turn: 2000 },
  { sessionUsd: Number.NaN, turnUsd: Number.POSITIVE_INFINITY, durationMs: -0 },
  { ok: false, errorType: "tool_error", executed: false, decision: "deny", risk: null },
  {
    approval: {
      approved: true,
      by: "gate",
      scope: "call",
      reason: odd,
    } as unknown as ToolCallFields["approval"],
  },
  { risk: { level: "HIGH", reason: odd, rule: "r" } },
  // A hash is quoted as is; anything else (the genesis value of another writer, upper case, odd text) is escaped.
  { prevHash: "" },
  { prevHash: "0".repeat(64) },
  { prevHash: "A".repeat(64) },
  { prevHash: `${"a".repeat(63)}"` },
  { prevHash: odd },
  { risk: { level: "HIGH", reason: undefined, rule: "r" } as unknown as ToolCallFields["risk"] },
];

/** A tool call's intent fields: the same call, as its intent record holds it. */
const intentOf = (f: ToolCallFields): IntentFields => ({
  alg: f.alg,
  callId: f.callId,
  index: f.index,
  input: f.input,
  prevHash: f.prevHash,
  runId: f.runId,
  seq: f.seq,
  sessionId: f.sessionId,
  tenantId: f.tenantId,
  tool: f.tool,
  ts: f.ts,
});

describe("audit record bodies built as strings", () => {
  it("are byte for byte JSON.stringify of the record object (the canonical form), for tool calls and intents", () => {
    for (const v of variants) {
      const f = { ...base, ...v };
      const run = runFragments(f.alg, f.runId, f.sessionId, f.tenantId);
      const original = f.originalInput === undefined ? undefined : canonicalJson(f.originalInput);
      const body = toolCallBody(f, run, canonicalJson(f.input), original, riskJson(f.risk));
      expect(body).toBe(JSON.stringify(toolCallRecord(f)));
      const i = intentOf(f);
      expect(intentBody(i, run, canonicalJson(i.input))).toBe(JSON.stringify(intentRecord(i)));
    }
  });

  it("answer undefined (the caller serialises the object) for a field of another type or another run's fragments", () => {
    const run = runFragments(base.alg, base.runId, base.sessionId, base.tenantId);
    const bad: Partial<Record<keyof ToolCallFields, unknown>>[] = [
      { summary: undefined },
      { sessionUsd: undefined },
      { ok: "true" },
      { errorType: 1 },
      { decision: "maybe" },
      { tool: { name: "x" } },
      { runId: "run_other" },
      { alg: "hmac-sha256" },
    ];
    for (const v of bad) {
      const f = { ...base, ...v } as ToolCallFields;
      expect(toolCallBody(f, run, "{}", undefined, riskJson(f.risk))).toBeUndefined();
    }
    const i = { ...base, callId: 7 } as unknown as IntentFields;
    expect(intentBody(i, run, "{}")).toBeUndefined();
  });
});

describe("audit record bodies handed to the writer as parts (never joined)", () => {
  const hashers = [chainHasher(undefined), chainHasher(createSecretKey(Buffer.from("k".repeat(32))))];
  /** The line the trail wrote when it encoded the joined body: the reference bytes. */
  const expectedLine = (body: string, hasher: (typeof hashers)[number]) =>
    Buffer.from(lineOf(body, hasher.digest(body)));
  // Results kept whole and cut (past 500 UTF-16 units, the cut inside a surrogate pair included).
  const results = ["ok", odd, odd.repeat(30), `${"a".repeat(499)}😀 and more`, "é".repeat(700)];

  it("encode to the same bytes and hash as the canonical body, for tool calls and intents, plain and HMAC chains", () => {
    for (const hasher of hashers) {
      for (const v of variants) {
        for (const result of results) {
          const f = { ...base, ...v, summary: summaryOf(result, 500) };
          const run = runFragments(f.alg, f.runId, f.sessionId, f.tenantId);
          const original = f.originalInput === undefined ? undefined : canonicalJson(f.originalInput);
          const summary = summaryJsonParts(result, 500);
          const parts = toolCallBodyParts(
            f,
            run,
            canonicalJson(f.input),
            original,
            riskJson(f.risk),
            summary,
          );
          const canonical = JSON.stringify(toolCallRecord(f));
          expect(parts!.join("")).toBe(canonical);
          const line = lineBytes(parts!, hasher);
          expect(line.digest).toBe(hasher.digest(canonical));
          expect(Buffer.from(line.bytes).equals(expectedLine(canonical, hasher))).toBe(true);
        }
        const i = intentOf({ ...base, ...v });
        const run = runFragments(i.alg, i.runId, i.sessionId, i.tenantId);
        const parts = intentBodyParts(i, run, canonicalJson(i.input));
        const canonical = JSON.stringify(intentRecord(i));
        expect(parts!.join("")).toBe(canonical);
        const line = lineBytes(parts!, hasher);
        expect(line.digest).toBe(hasher.digest(canonical));
        expect(Buffer.from(line.bytes).equals(expectedLine(canonical, hasher))).toBe(true);
      }
    }
  });

  it("answer undefined, as the joined builders do, for a field of another type", () => {
    const run = runFragments(base.alg, base.runId, base.sessionId, base.tenantId);
    for (const v of [
      { summary: undefined },
      { ok: "true" },
      { tool: { name: "x" } },
      { runId: "run_other" },
    ]) {
      const f = { ...base, ...v } as ToolCallFields;
      expect(toolCallBodyParts(f, run, "{}", undefined, riskJson(f.risk), ['"ok"'])).toBeUndefined();
    }
    expect(
      intentBodyParts({ ...intentOf(base), callId: 7 } as unknown as IntentFields, run, "{}"),
    ).toBeUndefined();
  });
});
