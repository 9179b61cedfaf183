import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type AuditRecord,
  AuditTrail,
  callbackGate,
  createHarness,
  defineTool,
  verifyAuditFile,
} from "../../src/index.js";
import { scriptedModel } from "../../src/testing.js";
import { callTurn, echoTool, tempDir } from "../helpers.js";

const nuke = defineTool({
  name: "nuke",
  description: "dangerous",
  input: z.object({ target: z.string() }),
  risk: { level: "HIGH", reason: "destroys things" },
  execute: ({ target }) => `nuked ${target}`,
});

async function auditedRun() {
  const dir = tempDir();
  const h = createHarness({
    model: scriptedModel({
      name: "audit",
      turns: [
        { ...callTurn("echo", { text: "one" }), usage: { input_tokens: 10, output_tokens: 1 } },
        { tool_calls: [{ tool: "nuke", input: { target: "prod" } }, { tool: "nope" }] },
        { ...callTurn("echo", { text: "three" }), repeat: 3 },
        { say: "done" },
      ],
    }),
    tools: [echoTool, nuke],
    audit: { dir },
    approvals: { gate: callbackGate(() => ({ approve: false, reason: "no" })) },
  });
  const session = h.session();
  const result = await session.run("go");
  const file = h.auditFile(session.id)!;
  return { file, result, session, h };
}

function lines(file: string): string[] {
  return readFileSync(file, "utf8").trimEnd().split("\n");
}

describe("audit trail", () => {
  it("writes one hash-chained record per tool call, allowed or denied, with risk and decision", async () => {
    const { file } = await auditedRun();
    const records = lines(file).map((l) => JSON.parse(l) as AuditRecord);
    expect(records.map((r) => [r.tool, r.decision, r.executed, r.output.errorType])).toEqual([
      ["echo", "allow", true, null],
      ["nuke", "deny", false, "permission_denied"],
      ["nope", "deny", false, "unknown_tool"],
      ["echo", "allow", true, null],
      ["echo", "allow", true, null],
      ["echo", "allow", true, null],
    ]);
    expect(records[1]).toMatchObject({
      turn: 2,
      input: { target: "prod" },
      risk: { level: "HIGH", reason: "destroys things", rule: "tool-profile:nuke" },
      approval: { outcome: "denied", by: "callback", reason: "no" },
    });
    expect(records[0]?.prevHash).toBe("0".repeat(64));
    for (let i = 1; i < records.length; i++) expect(records[i]?.prevHash).toBe(records[i - 1]?.hash);
    expect(verifyAuditFile(file)).toEqual({ ok: true, file, records: 6, headHash: records[5]?.hash });
  });

  it("detects a modified record", async () => {
    const { file } = await auditedRun();
    const l = lines(file);
    l[1] = l[1]!.replace('"decision":"deny"', '"decision":"allow"');
    writeFileSync(file, `${l.join("\n")}\n`);
    const v = verifyAuditFile(file);
    expect(v).toMatchObject({ ok: false, line: 2, records: 1 });
    expect(v.ok || v.reason).toContain("does not match its hash");
  });

  it("detects a modified record even when its hash is recomputed (the next link breaks)", async () => {
    const { file } = await auditedRun();
    const l = lines(file);
    const rec = JSON.parse(l[0]!);
    rec.input = { text: "forged" };
    const { hash: _old, ...body } = rec;
    const { createHash } = await import("node:crypto");
    const forgedHash = createHash("sha256").update(JSON.stringify(body)).digest("hex");
    l[0] = JSON.stringify({ ...body, hash: forgedHash });
    writeFileSync(file, `${l.join("\n")}\n`);
    expect(verifyAuditFile(file)).toMatchObject({
      ok: false,
      line: 2,
      reason: expect.stringContaining("prevHash"),
    });
  });

  it("detects a deleted record, reordered records and a truncated last line", async () => {
    const { file } = await auditedRun();
    const l = lines(file);
    writeFileSync(file, `${[l[0], l[2], l[3]].join("\n")}\n`);
    expect(verifyAuditFile(file)).toMatchObject({
      ok: false,
      line: 2,
      reason: expect.stringContaining("removed or reordered"),
    });
    writeFileSync(file, `${[l[1], l[0]].join("\n")}\n`);
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, line: 1 });
    writeFileSync(file, `${l[0]}\n${l[1]!.slice(0, 40)}`);
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, line: 2 });
    writeFileSync(file, "not json\n");
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, line: 1, reason: "not valid JSON" });
  });

  it("continues an existing chain across runs and sessions writing the same file", async () => {
    const { file, session } = await auditedRun();
    await session.run("again").catch(() => undefined);
    const trail = new AuditTrail(file);
    expect(trail.records).toBe(lines(file).length);
    expect(trail.headHash).toBe(JSON.parse(lines(file).at(-1)!).hash);
    expect(verifyAuditFile(file).ok).toBe(true);
  });

  it("refuses to continue a chain whose last record is partial", () => {
    const file = join(tempDir(), "partial.jsonl");
    writeFileSync(file, '{"v":1,"index":0');
    expect(() => new AuditTrail(file)).toThrow(expect.objectContaining({ code: "REIN_AUDIT_UNREADABLE" }));
  });

  it("audit trails written by v1 still verify (golden fixture; a format change must add a fixture, not break this)", () => {
    const fixture = join(import.meta.dirname, "../fixtures/audit/v1-demo.jsonl");
    expect(verifyAuditFile(fixture)).toMatchObject({
      ok: true,
      records: 7,
      headHash: "7a79ae12d0158cff0876360e76bf029146ba7c2cb3a58418745d18d646e34478",
    });
    const copy = join(tempDir(), "copy.jsonl");
    writeFileSync(copy, readFileSync(fixture));
    const trail = new AuditTrail(copy);
    expect(trail.records).toBe(7);
    expect(trail.headHash).toBe("7a79ae12d0158cff0876360e76bf029146ba7c2cb3a58418745d18d646e34478");
  });

  it("an unreadable file is a clear error", () => {
    expect(() => verifyAuditFile("/nonexistent/audit.jsonl")).toThrow(
      /Cannot read the audit trail \/nonexistent\/audit.jsonl/,
    );
  });

  it("refuses an audit directory inside the workspace, where the agent could rewrite it", () => {
    const ws = tempDir();
    expect(() =>
      createHarness({ model: "scripted:demo", workspace: ws, audit: { dir: join(ws, "logs") } }),
    ).toThrow(/inside the workspace/);
  });
});
