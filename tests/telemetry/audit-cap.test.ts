import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type AuditToolCallRecord,
  AuditTrail,
  callbackGate,
  createHarness,
  defineTool,
  verifyAuditFile,
} from "../../src/index.js";
import { scriptedModel } from "../../src/testing.js";
import { tempDir } from "../helpers.js";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

const HUGE = "é".repeat(600_000); // 1.2 MB of UTF-8, past the 1 MiB a tail read would take

const store = defineTool({
  name: "store",
  description: "stores a blob",
  input: z.object({ blob: z.string() }),
  risk: { level: "HIGH", reason: "writes" },
  execute: ({ blob }) => blob.repeat(2),
});

async function hugeRun(audit: { maxRecordBytes?: number } = {}) {
  const h = createHarness({
    model: scriptedModel({
      name: "cap",
      turns: [{ tool_calls: [{ tool: "store", input: { blob: HUGE } }] }, { say: "done" }],
    }),
    tools: [store],
    audit: { dir: tempDir(), ...audit },
    // A gate that answers with a megabyte-long reason: outside text the trail must not let grow a record.
    approvals: { gate: callbackGate(() => ({ approve: false, reason: `no: ${"x".repeat(1_000_000)}` })) },
  });
  const session = h.session();
  await session.run("store it");
  await session.close();
  return h.auditFile(session.id)!;
}

describe("audit record size cap", () => {
  it("truncates a record over the cap (default 64 KiB) with an explicit marker per field, and the trail still verifies and reopens", async () => {
    const file = await hugeRun();
    const lines = readFileSync(file, "utf8").split("\n").slice(0, -1);
    for (const line of lines) expect(Buffer.byteLength(line) + 1).toBeLessThanOrEqual(64 * 1024);
    const record = JSON.parse(lines[0]!) as AuditToolCallRecord;
    const inputJson = JSON.stringify({ blob: HUGE });
    const approvalJson = JSON.stringify({
      by: "callback",
      outcome: "denied",
      reason: `no: ${"x".repeat(1_000_000)}`,
    });
    expect(record.truncated).toEqual(
      expect.arrayContaining([
        { field: "input", originalBytes: Buffer.byteLength(inputJson), sha256: sha256(inputJson) },
        { field: "approval", originalBytes: Buffer.byteLength(approvalJson), sha256: sha256(approvalJson) },
      ]),
    );
    // The truncated value is a prefix of the original JSON, so a reader sees what it was.
    expect(inputJson.startsWith(record.input as string)).toBe(true);
    expect((record.input as string).length).toBeGreaterThan(1000);
    expect(record).toMatchObject({ tool: "store", decision: "deny", executed: false });
    expect(verifyAuditFile(file)).toMatchObject({ ok: true, status: "sealed", records: 1 });
    expect(new AuditTrail(file).records).toBe(1);
  });

  it("a huge model input replaced by a rewriteToolInput hook is capped in originalInput, the executed input kept whole", async () => {
    const h = createHarness({
      model: scriptedModel({
        name: "rewrite",
        turns: [{ tool_calls: [{ tool: "store", input: { blob: HUGE } }] }, { say: "done" }],
      }),
      tools: [store],
      audit: { dir: tempDir() },
      approvals: { gate: callbackGate(() => ({ approve: true })) },
      hooks: { rewriteToolInput: () => ({ blob: "small" }) },
    });
    const session = h.session();
    await session.run("store it");
    await session.close();
    const file = h.auditFile(session.id)!;
    const record = JSON.parse(
      readFileSync(file, "utf8")
        .split("\n")
        .find((l) => l.includes('"kind":"tool_call"'))!,
    ) as AuditToolCallRecord & {
      originalInput: unknown;
    };
    const originalJson = JSON.stringify({ blob: HUGE });
    expect(record).toMatchObject({ input: { blob: "small" }, executed: true });
    expect(record.truncated).toEqual([
      {
        field: "originalInput",
        originalBytes: Buffer.byteLength(originalJson),
        sha256: sha256(originalJson),
      },
    ]);
    expect(originalJson.startsWith(record.originalInput as string)).toBe(true);
    expect(verifyAuditFile(file)).toMatchObject({ ok: true, status: "sealed", records: 1 });
  });

  it("the cap is configurable (audit.maxRecordBytes), within bounds", async () => {
    const file = await hugeRun({ maxRecordBytes: 8192 });
    for (const line of readFileSync(file, "utf8").split("\n").slice(0, -1))
      expect(Buffer.byteLength(line) + 1).toBeLessThanOrEqual(8192);
    expect(verifyAuditFile(file)).toMatchObject({ ok: true, status: "sealed" });
    expect(() =>
      createHarness({ model: "scripted:demo", audit: { dir: tempDir(), maxRecordBytes: 100 } }),
    ).toThrow(/config\.audit\.maxRecordBytes/);
  });
});
