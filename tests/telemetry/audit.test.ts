import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type AuditRecord,
  type AuditToolCallRecord,
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

function parsed(file: string): AuditRecord[] {
  return lines(file).map((l) => JSON.parse(l) as AuditRecord);
}

function toolCalls(file: string): AuditToolCallRecord[] {
  return parsed(file).filter((r): r is AuditToolCallRecord => r.kind === "tool_call");
}

describe("audit trail", () => {
  it("writes one hash-chained record per tool call, allowed or denied, with risk and decision", async () => {
    const { file, result } = await auditedRun();
    const all = parsed(file);
    const records = toolCalls(file);
    expect(records.map((r) => [r.tool, r.decision, r.executed, r.output.errorType])).toEqual([
      ["echo", "allow", true, null],
      ["nuke", "deny", false, "permission_denied"],
      ["nope", "deny", false, "unknown_tool"],
      ["echo", "allow", true, null],
      ["echo", "allow", true, null],
      ["echo", "allow", true, null],
    ]);
    expect(records[1]).toMatchObject({
      v: 2,
      alg: "sha256",
      turn: 2,
      input: { target: "prod" },
      risk: { level: "HIGH", reason: "destroys things", rule: "tool-profile:nuke" },
      approval: { outcome: "denied", by: "callback", reason: "no" },
    });
    // The run's end is sealed: the seal names the record count and the head it closes.
    expect(all).toHaveLength(7);
    expect(all[6]).toMatchObject({
      kind: "seal",
      reason: "run_ended",
      runId: result.runId,
      records: 6,
      head: records[5]?.hash,
      prevHash: records[5]?.hash,
    });
    expect(all[0]?.prevHash).toBe("0".repeat(64));
    for (let i = 1; i < all.length; i++) expect(all[i]?.prevHash).toBe(all[i - 1]?.hash);
    expect(verifyAuditFile(file)).toEqual({
      ok: true,
      status: "sealed",
      file,
      records: 6,
      seals: 1,
      alg: "sha256",
      headHash: all[6]?.hash,
    });
  });

  it("detects a modified record", async () => {
    const { file } = await auditedRun();
    const l = lines(file);
    l[1] = l[1]!.replace('"decision":"deny"', '"decision":"allow"');
    writeFileSync(file, `${l.join("\n")}\n`);
    const v = verifyAuditFile(file);
    expect(v).toMatchObject({ ok: false, status: "tampered", line: 2, records: 1 });
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
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, status: "truncated", line: 2 });
    writeFileSync(file, "not json\n");
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, line: 1, reason: "not valid JSON" });
  });

  it("continues an existing chain across runs and sessions writing the same file", async () => {
    const dir = tempDir();
    const harness = (name: string, texts: string[]) =>
      createHarness({
        model: scriptedModel({
          name,
          turns: texts.flatMap((text) => [callTurn("echo", { text }), { say: text }]),
        }),
        tools: [echoTool],
        audit: { dir },
      });
    const h1 = harness("first-process", ["run 1", "run 2"]);
    const session = h1.session({ id: "ses_chained" });
    const r1 = await session.run("first");
    const r2 = await session.run("second");
    await session.close();
    // Another harness (as another process would) reopens the session's trail and continues it.
    const h2 = harness("second-process", ["run 3"]);
    expect(h2.auditFile("ses_chained")).toBe(h1.auditFile("ses_chained"));
    const again = h2.session({ id: "ses_chained" });
    const r3 = await again.run("third");
    await again.close();
    for (const r of [r1, r2, r3]) expect(r.status).toBe("completed");

    const file = h1.auditFile("ses_chained")!;
    const all = parsed(file);
    expect(
      all.map((r) => [
        r.index,
        r.kind,
        r.kind === "tool_call" ? (r.input as { text: string }).text : r.reason,
        r.runId,
      ]),
    ).toEqual([
      [0, "tool_call", "run 1", r1.runId],
      [1, "seal", "run_ended", r1.runId],
      [2, "tool_call", "run 2", r2.runId],
      [3, "seal", "run_ended", r2.runId],
      // session_ended carries the session's last run id (never an empty one).
      [4, "seal", "session_ended", r2.runId],
      [5, "tool_call", "run 3", r3.runId],
      [6, "seal", "run_ended", r3.runId],
      [7, "seal", "session_ended", r3.runId],
    ]);
    // The records of the later runs link to the earlier runs' heads, across the reopen.
    for (let i = 1; i < all.length; i++) expect(all[i]?.prevHash).toBe(all[i - 1]?.hash);
    expect(all[5]?.prevHash).toBe(all[4]?.hash);
    expect(verifyAuditFile(file)).toMatchObject({ ok: true, status: "sealed", records: 3, seals: 5 });
    const reopened = new AuditTrail(file);
    expect([reopened.records, reopened.seals, reopened.headHash]).toEqual([3, 5, all[7]?.hash]);
  });

  it("refuses to continue a chain whose last record is partial", () => {
    const file = join(tempDir(), "partial.jsonl");
    writeFileSync(file, '{"v":1,"index":0');
    expect(() => new AuditTrail(file)).toThrow(
      expect.objectContaining({
        code: "REIN_AUDIT_INVALID",
        message: expect.stringContaining("partial record"),
      }),
    );
  });

  it("audit trails written by v1 still verify (golden fixture; a format change must add a fixture, not break this)", () => {
    const fixture = join(import.meta.dirname, "../fixtures/audit/v1-demo.jsonl");
    expect(verifyAuditFile(fixture)).toMatchObject({
      ok: true,
      status: "v1",
      records: 7,
      headHash: "7a79ae12d0158cff0876360e76bf029146ba7c2cb3a58418745d18d646e34478",
    });
    const copy = join(tempDir(), "copy.jsonl");
    writeFileSync(copy, readFileSync(fixture));
    const trail = new AuditTrail(copy);
    expect(trail.records).toBe(7);
    expect(trail.headHash).toBe("7a79ae12d0158cff0876360e76bf029146ba7c2cb3a58418745d18d646e34478");
  });

  it("a v1 trail is continued with v2 records linked to its head, and the first seal closes it", async () => {
    const fixture = join(import.meta.dirname, "../fixtures/audit/v1-demo.jsonl");
    const dir = tempDir();
    const id = "ses_1b1b0927814747458abf90d0c7461134";
    writeFileSync(join(dir, `${id}.jsonl`), readFileSync(fixture));
    const h = createHarness({
      model: scriptedModel({ name: "after-v1", turns: [callTurn("echo", { text: "v2" }), { say: "done" }] }),
      tools: [echoTool],
      audit: { dir },
    });
    const session = h.session({ id });
    await session.run("continue");
    const all = parsed(h.auditFile(id)!);
    expect(all.slice(7).map((r) => [r.v, r.kind, r.index])).toEqual([
      [2, "tool_call", 7],
      [2, "seal", 8],
    ]);
    expect(all[7]?.prevHash).toBe("7a79ae12d0158cff0876360e76bf029146ba7c2cb3a58418745d18d646e34478");
    expect(verifyAuditFile(h.auditFile(id)!)).toMatchObject({
      ok: true,
      status: "sealed",
      records: 8,
      seals: 1,
    });
  });

  it("refuses a v1 record after a v2 record (the writer never goes back), even with a valid hash and link", async () => {
    const { file } = await auditedRun();
    const last = parsed(file).at(-1)!;
    const { createHash } = await import("node:crypto");
    const v1 = JSON.parse(lines(join(import.meta.dirname, "../fixtures/audit/v1-demo.jsonl"))[0]!);
    delete v1.hash;
    v1.index = last.index + 1;
    v1.prevHash = last.hash;
    const body = JSON.stringify(v1);
    writeFileSync(
      file,
      `${body.slice(0, -1)},"hash":"${createHash("sha256").update(body).digest("hex")}"}\n`,
      {
        flag: "a",
      },
    );
    expect(verifyAuditFile(file)).toMatchObject({
      ok: false,
      status: "tampered",
      line: 8,
      reason: "a format v1 record follows a v2 record; the writer never goes back",
    });
  });

  it("refuses to write when a directory on the trail's path was swapped for a symlink since it was opened", async () => {
    const base = tempDir();
    const dir = join(base, "audit");
    const h = createHarness({
      model: scriptedModel({
        name: "swap",
        turns: [callTurn("echo", { text: "1" }), { say: "a" }, callTurn("echo", { text: "2" }), { say: "b" }],
      }),
      tools: [echoTool],
      audit: { dir },
    });
    const session = h.session({ id: "ses_swap" });
    await session.run("first");
    renameSync(dir, join(base, "audit.moved"));
    mkdirSync(join(base, "elsewhere"));
    symlinkSync(join(base, "elsewhere"), dir);
    const second = await session.run("second");
    expect(second.stopReason).toMatchObject({
      type: "error",
      code: "REIN_AUDIT_WRITE_FAILED",
      message: expect.stringContaining(`now resolves to ${join(base, "elsewhere", "ses_swap.jsonl")}`),
    });
    expect(readFileSync(join(base, "elsewhere", "ses_swap.jsonl"), "utf8")).toBe("");
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
