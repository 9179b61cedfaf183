import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { type AuditRecord, AuditTrail, createHarness, verifyAuditFile } from "../../src/index.js";
import { scriptedModel } from "../../src/testing.js";
import { callTurn, echoTool, tempDir } from "../helpers.js";

const KEY = "k3y-for-the-audit-chain-0123456789abcdef";

async function keyedTrail(audit: { key?: string | Uint8Array } = { key: KEY }) {
  const h = createHarness({
    model: scriptedModel({
      name: "keyed",
      turns: [{ ...callTurn("echo", { text: "a" }), repeat: 3 }, { say: "done" }],
    }),
    tools: [echoTool],
    audit: { dir: tempDir(), ...audit },
  });
  const session = h.session();
  await session.run("go");
  await session.close();
  const file = h.auditFile(session.id)!;
  return { file, lines: readFileSync(file, "utf8").trimEnd().split("\n") };
}

/** What an attacker who can write the file (but has no key) does: edit a record, recompute every hash after it with sha256. */
function forgeAndRechain(lines: string[], edit: (r: Record<string, unknown>) => void): string {
  let prev: string | undefined;
  const out = lines.map((line, i) => {
    const { hash: _h, ...body } = JSON.parse(line) as Record<string, unknown>;
    if (i === 1) edit(body);
    if (prev !== undefined) body.prevHash = prev;
    if (body.kind === "seal" && prev !== undefined) body.head = prev;
    const sorted = Object.fromEntries(Object.entries(body).sort(([a], [b]) => (a < b ? -1 : 1)));
    const text = JSON.stringify(sorted);
    prev = createHash("sha256").update(text).digest("hex");
    return `${text.slice(0, -1)},"hash":"${prev}"}`;
  });
  return `${out.join("\n")}\n`;
}

describe("keyed audit trails (HMAC-SHA256)", () => {
  afterEach(() => {
    delete process.env.REIN_AUDIT_KEY;
  });

  it("with a key the chain is HMAC-SHA256; records say alg hmac-sha256 and never hold the key", async () => {
    const { file, lines } = await keyedTrail();
    const records = lines.map((l) => JSON.parse(l) as AuditRecord);
    expect(new Set(records.map((r) => r.alg))).toEqual(new Set(["hmac-sha256"]));
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(Buffer.from(KEY).toString("hex"));
    expect(text).not.toContain(Buffer.from(KEY).toString("base64"));
    expect(verifyAuditFile(file, { key: KEY })).toMatchObject({
      ok: true,
      status: "sealed",
      alg: "hmac-sha256",
      records: 3,
    });
  });

  it("someone who can write the file cannot recompute a keyed chain", async () => {
    const { file, lines } = await keyedTrail();
    writeFileSync(
      file,
      forgeAndRechain(lines, (r) => {
        r.input = { text: "forged" };
      }),
    );
    expect(verifyAuditFile(file, { key: KEY })).toMatchObject({
      ok: false,
      status: "tampered",
      line: 1,
      reason: expect.stringContaining("HMAC-SHA256: it was modified, or this is not its key"),
    });
  });

  it("a keyed trail rewritten as an unkeyed (sha256) chain is refused when verified with the key (no downgrade)", async () => {
    const { file, lines } = await keyedTrail();
    const downgraded = lines.map((l) => l.replace('"alg":"hmac-sha256"', '"alg":"sha256"'));
    writeFileSync(
      file,
      forgeAndRechain(downgraded, () => {}),
    );
    expect(verifyAuditFile(file)).toMatchObject({ ok: true, status: "sealed", alg: "sha256" }); // self-consistent…
    expect(verifyAuditFile(file, { key: KEY })).toMatchObject({
      ok: false,
      status: "unkeyed",
      line: 1,
      reason: expect.stringContaining("a key was given but this record is not keyed"),
    }); // …but not what the key holder wrote
  });

  it("verifying a keyed trail without its key says that a key is required; the wrong key fails", async () => {
    const { file } = await keyedTrail();
    expect(verifyAuditFile(file)).toMatchObject({
      ok: false,
      status: "key_required",
      line: 1,
      reason: expect.stringContaining("the trail is keyed (hmac-sha256) and no key was given"),
    });
    expect(verifyAuditFile(file, { key: `${KEY}-wrong` })).toMatchObject({
      ok: false,
      status: "tampered",
      line: 1,
    });
  });

  it("REIN_AUDIT_KEY keys a harness's trail when the config gives no key; Uint8Array keys work too", async () => {
    process.env.REIN_AUDIT_KEY = KEY;
    const fromEnv = await keyedTrail({});
    expect(verifyAuditFile(fromEnv.file, { key: KEY })).toMatchObject({ ok: true, alg: "hmac-sha256" });
    delete process.env.REIN_AUDIT_KEY;
    const bytes = Buffer.alloc(32, 7);
    const fromBytes = await keyedTrail({ key: new Uint8Array(bytes) });
    expect(verifyAuditFile(fromBytes.file, { key: bytes })).toMatchObject({ ok: true, alg: "hmac-sha256" });
  });

  it("refuses a short key, naming where it came from, without printing it", () => {
    const make = () =>
      createHarness({ model: "scripted:demo", audit: { dir: tempDir(), key: "short-secret" } });
    expect(make).toThrow(
      expect.objectContaining({
        code: "REIN_CONFIG_INVALID",
        message: expect.stringContaining("config.audit.key: the audit key has 12 bytes; use at least 16"),
      }),
    );
    expect(() => make()).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining("short-secret") }),
    );
    process.env.REIN_AUDIT_KEY = "tiny";
    expect(() => createHarness({ model: "scripted:demo", audit: { dir: tempDir() } })).toThrow(
      /environment variable REIN_AUDIT_KEY: the audit key has 4 bytes/,
    );
  });

  it("a v1 trail cannot be verified as keyed", () => {
    const fixture = new URL("../fixtures/audit/v1-demo.jsonl", import.meta.url).pathname;
    expect(verifyAuditFile(fixture, { key: KEY })).toMatchObject({
      ok: false,
      status: "unkeyed",
      line: 1,
      reason: expect.stringContaining("(format v1)"),
    });
  });

  it("a keyed trail is not continued without its key, and an unkeyed one is not continued with a key", async () => {
    const keyed = await keyedTrail();
    expect(() => new AuditTrail(keyed.file)).toThrow(
      expect.objectContaining({
        code: "REIN_AUDIT_INVALID",
        message: expect.stringContaining("no key was given"),
      }),
    );
    expect(new AuditTrail(keyed.file, { key: KEY }).records).toBe(3);
    const plain = await keyedTrail({});
    expect(() => new AuditTrail(plain.file, { key: KEY })).toThrow(
      expect.objectContaining({ code: "REIN_AUDIT_INVALID", message: expect.stringContaining("not keyed") }),
    );
  });
});
