import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AuditTrail, createHarness, verifyAuditFile } from "../../src/index.js";
import { scriptedModel } from "../../src/testing.js";
import { callTurn, echoTool, tempDir } from "../helpers.js";

async function trail() {
  const h = createHarness({
    model: scriptedModel({
      name: "bytes",
      turns: [{ ...callTurn("echo", { text: "Abc" }), repeat: 3 }, { say: "done" }],
    }),
    tools: [echoTool],
    audit: { dir: tempDir() },
  });
  const session = h.session();
  await session.run("go");
  await session.close();
  const file = h.auditFile(session.id)!;
  return { file, lines: readFileSync(file, "utf8").split("\n").slice(0, -1) };
}

/**
 * Each edit keeps the parsed content of line 2 the same (so a parse-then-hash check would pass it),
 * or, for reordered keys, is refused before the hash is even computed: the bytes are not the writer's.
 */
const EDITS: [string, (line: string) => string][] = [
  ["a re-encoded escape (\\u0041 for A)", (l) => l.replace('"text":"Abc"', '"text":"\\u0041bc"')],
  ["a duplicate key", (l) => l.replace('"decision":"allow"', '"decision":"deny","decision":"allow"')],
  [
    "reordered keys",
    (l) =>
      l
        .replace('"decision":"allow","durationMs"', '"durationMs"')
        .replace('"executed"', '"decision":"allow","executed"'),
  ],
  ["a CRLF line ending", (l) => `${l}\r`],
  ["trailing spaces", (l) => `${l}  `],
  ["a space after a colon", (l) => l.replace('"tool":"echo"', '"tool": "echo"')],
];

describe("verification checks the bytes as written", () => {
  for (const [what, edit] of EDITS) {
    it(`refuses ${what}, with the line number`, async () => {
      const { file, lines } = await trail();
      const edited = edit(lines[1]!);
      expect(edited).not.toBe(lines[1]);
      if (!what.startsWith("reordered") && !what.startsWith("a duplicate"))
        expect(JSON.parse(edited.trimEnd())).toEqual(JSON.parse(lines[1]!)); // same content, other bytes
      lines[1] = edited;
      writeFileSync(file, `${lines.join("\n")}\n`);
      const verdict = verifyAuditFile(file);
      expect(verdict).toMatchObject({ ok: false, status: "tampered", line: 2, records: 1 });
      expect(verdict.ok || verdict.reason).toMatch(/canonical form|carriage return/);
    });
  }

  it("refuses a byte-order mark at the start of the file", async () => {
    const { file } = await trail();
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(file)]));
    expect(verifyAuditFile(file)).toMatchObject({
      ok: false,
      status: "tampered",
      line: 1,
      reason: expect.stringContaining("byte-order mark"),
    });
  });

  it("refuses invalid UTF-8 (bytes that would decode to U+FFFD)", async () => {
    const { file } = await trail();
    const bytes = readFileSync(file);
    const at = bytes.indexOf("Abc", bytes.indexOf(0x0a));
    bytes[at] = 0xff;
    writeFileSync(file, bytes);
    expect(verifyAuditFile(file)).toMatchObject({
      ok: false,
      status: "tampered",
      line: 2,
      reason: "the line is not valid UTF-8",
    });
  });
});

describe("verification reads only regular files", () => {
  it("refuses a symlink to a valid trail (O_NOFOLLOW), naming it", async () => {
    const { file } = await trail();
    const link = join(tempDir(), "link.jsonl");
    symlinkSync(file, link);
    expect(() => verifyAuditFile(link)).toThrow(
      expect.objectContaining({
        code: "REIN_AUDIT_UNREADABLE",
        message: expect.stringContaining(`${link}: it is a symbolic link`),
      }),
    );
  });

  it("refuses a FIFO without blocking on it", () => {
    const fifo = join(tempDir(), "trail.jsonl");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    expect(() => verifyAuditFile(fifo)).toThrow(
      expect.objectContaining({
        code: "REIN_AUDIT_UNREADABLE",
        message: expect.stringContaining("it is a FIFO, not a regular file"),
      }),
    );
  });

  it("refuses a device and a directory", () => {
    expect(() => verifyAuditFile("/dev/null")).toThrow(/\/dev\/null: it is a device, not a regular file/);
    const dir = tempDir();
    expect(() => verifyAuditFile(dir)).toThrow(/it is a directory, not a regular file/);
  });

  it("the writer refuses a trail file that is a symlink or a FIFO", async () => {
    const { file } = await trail();
    const dir = tempDir();
    symlinkSync(file, join(dir, "ses_link.jsonl"));
    expect(() => new AuditTrail(join(dir, "ses_link.jsonl"))).toThrow(
      expect.objectContaining({
        code: "REIN_AUDIT_INVALID",
        message: expect.stringContaining("it is a symbolic link, not a regular file"),
      }),
    );
    mkdirSync(join(dir, "sub"));
    expect(spawnSync("mkfifo", [join(dir, "sub", "ses_fifo.jsonl")]).status).toBe(0);
    expect(() => new AuditTrail(join(dir, "sub", "ses_fifo.jsonl"))).toThrow(
      /it is a FIFO, not a regular file/,
    );
  });
});

describe("canonical copies of inputs", () => {
  it('a "__proto__" key in a tool input is recorded as data, never as a prototype', async () => {
    const { canonicalData } = await import("../../src/telemetry/audit-record.js");
    const input = JSON.parse('{"b":1,"__proto__":{"polluted":true},"a":2}');
    const copy = canonicalData(input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { polluted?: unknown }).polluted).toBeUndefined();
    expect(JSON.stringify(copy)).toBe('{"__proto__":{"polluted":true},"a":2,"b":1}');
  });
});
