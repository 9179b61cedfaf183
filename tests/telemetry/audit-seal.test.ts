import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type AuditRecord, AuditTrail, createHarness, verifyAuditFile } from "../../src/index.js";
import { scriptedModel } from "../../src/testing.js";
import { callTurn, echoTool, tempDir } from "../helpers.js";

/** A session of two runs (two tool calls, then one), closed: 3 tool-call records and 3 seals. */
async function sealedTrail() {
  const h = createHarness({
    model: scriptedModel({
      name: "seal",
      turns: [
        { ...callTurn("echo", { text: "a" }), repeat: 2 },
        { say: "one" },
        callTurn("echo", { text: "b" }),
        { say: "two" },
      ],
    }),
    tools: [echoTool],
    audit: { dir: tempDir() },
  });
  const session = h.session();
  await session.run("first");
  await session.run("second");
  await session.close();
  const file = h.auditFile(session.id)!;
  const text = readFileSync(file, "utf8");
  const lines = text.trimEnd().split("\n");
  const records = lines.map((l) => JSON.parse(l) as AuditRecord);
  return { h, session, file, text, lines, records };
}

function keepLines(file: string, lines: string[], n: number): void {
  writeFileSync(file, `${lines.slice(0, n).join("\n")}\n`);
}

/** An audited harness whose session makes, by default, one echo call in each of two runs. */
function twoRunHarness(
  name: string,
  turns: object[] = [
    callTurn("echo", { text: "1" }),
    { say: "one" },
    callTurn("echo", { text: "2" }),
    { say: "two" },
  ],
) {
  return createHarness({
    model: scriptedModel({ name, turns }),
    tools: [echoTool],
    audit: { dir: tempDir() },
  });
}

/** A run refused before any call because its trail changed since this writer last wrote it. */
function expectRefusedChanged(run: { stopReason: unknown; toolCalls: number }) {
  expect(run.stopReason).toMatchObject({
    type: "error",
    code: "REIN_AUDIT_INVALID",
    message: expect.stringContaining("changed since this writer last wrote it"),
  });
  expect(run.toolCalls).toBe(0);
}

describe("audit seals: a trail is anchored at its end", () => {
  it("seals the end of every run and of the session, with the record count and the head", async () => {
    const { records } = await sealedTrail();
    expect(records.map((r) => (r.kind === "seal" ? `seal:${r.reason}:${r.records}` : r.kind))).toEqual([
      "tool_call",
      "tool_call",
      "seal:run_ended:2",
      "tool_call",
      "seal:run_ended:3",
      "seal:session_ended:3",
    ]);
    for (const [i, r] of records.entries()) if (r.kind === "seal") expect(r.head).toBe(records[i - 1]?.hash);
  });

  it("reports a trail cut between seals as unsealed, naming how many records follow no seal", async () => {
    const { file, lines, records } = await sealedTrail();
    keepLines(file, lines, 4); // the second run's record, without its seal (cut, or its writer crashed)
    expect(verifyAuditFile(file)).toMatchObject({
      ok: false,
      status: "unsealed",
      unsealedRecords: 1,
      records: 3,
      seals: 1,
      headHash: records[3]?.hash,
      reason: expect.stringContaining("the last 1 record follows no seal"),
    });
  });

  it("reports a partial last line as truncated, and an empty file as empty, never as valid", async () => {
    const { file, text } = await sealedTrail();
    writeFileSync(file, text.slice(0, -30));
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, status: "truncated", line: 6 });
    truncateSync(file, 0);
    expect(verifyAuditFile(file)).toMatchObject({
      ok: false,
      status: "empty",
      records: 0,
      reason: expect.stringContaining("the file is empty"),
    });
  });

  it("a trail cut exactly after an earlier seal is caught against the head kept elsewhere (options.head)", async () => {
    const { file, lines, records } = await sealedTrail();
    const head = records.at(-1)!.hash;
    expect(verifyAuditFile(file, { head })).toMatchObject({ ok: true, status: "sealed", headHash: head });
    keepLines(file, lines, 3); // ends with the first run's seal: a well-formed, sealed, shorter trail
    expect(verifyAuditFile(file)).toMatchObject({ ok: true, status: "sealed" });
    expect(verifyAuditFile(file, { head })).toMatchObject({
      ok: false,
      status: "head_mismatch",
      expectedHead: head,
      headHash: records[2]?.hash,
      reason: expect.stringContaining("records were removed from its end"),
    });
  });

  it("a seal that does not match the chain is refused", async () => {
    const { file, lines } = await sealedTrail();
    // Recompute the last seal's hash (sha256 needs no key) after changing its count: its own hash checks, its claim does not.
    const seal = JSON.parse(lines[5]!);
    seal.records = 99;
    const { hash: _h, ...body } = seal;
    const { createHash } = await import("node:crypto");
    lines[5] = JSON.stringify({
      ...body,
      hash: createHash("sha256").update(JSON.stringify(body)).digest("hex"),
    });
    writeFileSync(file, `${lines.join("\n")}\n`);
    expect(verifyAuditFile(file)).toMatchObject({
      ok: false,
      status: "tampered",
      line: 6,
      reason: expect.stringContaining("the seal says 99 records"),
    });
  });
});

describe("reopening a trail anchors it at the file's last record", () => {
  const invalid = (message: string) =>
    expect.objectContaining({ code: "REIN_AUDIT_INVALID", message: expect.stringContaining(message) });

  it("refuses to continue a trail cut between seals (unsealed), instead of chaining onto the cut", async () => {
    const { file, lines } = await sealedTrail();
    keepLines(file, lines, 4);
    expect(() => new AuditTrail(file)).toThrow(invalid("follows no seal"));
  });

  it("refuses to continue an emptied trail, instead of starting a new chain in it", async () => {
    const { file } = await sealedTrail();
    truncateSync(file, 0);
    expect(() => new AuditTrail(file)).toThrow(invalid("the file is empty"));
  });

  it("refuses to continue a trail edited in the middle (the whole chain is verified once at reopen)", async () => {
    const { file, lines } = await sealedTrail();
    lines[1] = lines[1]!.replace('"text":"a"', '"text":"z"');
    writeFileSync(file, `${lines.join("\n")}\n`);
    expect(() => new AuditTrail(file)).toThrow(
      invalid("(line 2): the record's content does not match its hash"),
    );
  });

  it("between runs of one session, a trail cut after an earlier seal is refused and left as it was", async () => {
    const h = twoRunHarness("between", [
      callTurn("echo", { text: "1" }),
      callTurn("echo", { text: "2" }),
      { say: "one" },
      callTurn("echo", { text: "3" }),
      { say: "two" },
    ]);
    const session = h.session();
    await session.run("first");
    const file = h.auditFile(session.id)!;
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    // Cut to the first record only: a valid prefix. The writer remembers what it wrote and refuses.
    keepLines(file, lines, 1);
    const cut = readFileSync(file);
    const second = await session.run("second");
    expectRefusedChanged(second);
    expect(readFileSync(file)).toEqual(cut);
  });

  it("between runs of one session, a seal edited in place (same size) is refused: the writer checks the bytes it wrote", async () => {
    // Between runs the trail keeps its seal as fields and makes the line again to check the file's
    // tail: a change of one byte, the size kept, must still be found.
    const h = twoRunHarness("edited");
    const session = h.session();
    await session.run("first");
    const file = h.auditFile(session.id)!;
    const text = readFileSync(file, "utf8");
    const seal = text.lastIndexOf('"kind":"seal"');
    expect(seal).toBeGreaterThan(0);
    const edited = `${text.slice(0, seal)}"kind":"seel"${text.slice(seal + '"kind":"seal"'.length)}`;
    expect(edited.length).toBe(text.length);
    writeFileSync(file, edited);
    const second = await session.run("second");
    expectRefusedChanged(second);
    expect(readFileSync(file, "utf8")).toBe(edited);
  });

  it("between runs of one session, an untouched trail is continued from its seal", async () => {
    const h = twoRunHarness("continued");
    const session = h.session();
    await session.run("first");
    const second = await session.run("second");
    expect(second.status).toBe("completed");
    await session.close();
    expect(verifyAuditFile(h.auditFile(session.id)!)).toMatchObject({
      ok: true,
      status: "sealed",
      records: 2,
    });
  });

  it("between runs of one session, a record appended by another writer is refused", async () => {
    const h = twoRunHarness("other");
    const mine = h.session({ id: "ses_shared" });
    await mine.run("first");
    // Another session object on the same trail (as another process would) writes a run of its own.
    const other = createHarness({
      model: scriptedModel({ name: "intruder", turns: [callTurn("echo", { text: "x" }), { say: "x" }] }),
      tools: [echoTool],
      audit: { dir: h.auditFile("ses_shared")!.replace(/\/[^/]+$/, "") },
    }).session({ id: "ses_shared" });
    await other.run("intrude");
    const second = await mine.run("second");
    expect(second.stopReason).toMatchObject({ type: "error", code: "REIN_AUDIT_INVALID" });
    expect(verifyAuditFile(h.auditFile("ses_shared")!)).toMatchObject({
      ok: true,
      status: "sealed",
      records: 2,
    });
  });
});
