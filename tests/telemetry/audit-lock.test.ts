import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AuditTrail, createHarness, defineTool, verifyAuditFile } from "../../src/index.js";
import { scriptedModel } from "../../src/testing.js";
import { callTurn, echoTool, tempDir } from "../helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");
const dist = (file: string) => pathToFileURL(join(ROOT, "dist", file)).href;

/**
 * A second process writing the same session's trail: run 1 records an echo; run 2 (optionally after
 * an echo) calls `block`, which prints "holding" and waits for a line on stdin; then the session closes.
 */
const CHILD = `
import { createHarness, defineTool } from ${JSON.stringify(dist("index.js"))};
import { scriptedModel } from ${JSON.stringify(dist("testing.js"))};
import { z } from "zod";
const echo = defineTool({ name: "echo", description: "echo", input: z.object({ text: z.string() }),
  risk: { level: "LOW", reason: "pure" }, readOnly: true, execute: ({ text }) => text });
const block = defineTool({ name: "block", description: "waits for the parent", input: z.object({}),
  risk: { level: "LOW", reason: "waits" }, readOnly: true,
  execute: () => new Promise((done) => { process.stdin.once("data", () => done("released")); process.stdout.write("holding\\n"); }) });
const run2 = process.env.ECHO_FIRST === "1"
  ? [{ tool_calls: [{ tool: "echo", input: { text: "child 2" } }] }, { tool_calls: [{ tool: "block", input: {} }] }]
  : [{ tool_calls: [{ tool: "block", input: {} }] }];
const h = createHarness({
  model: scriptedModel({ name: "child", turns: [{ tool_calls: [{ tool: "echo", input: { text: "child 1" } }] }, { say: "one" }, ...run2, { say: "two" }] }),
  tools: [echo, block],
  audit: { dir: process.env.AUDIT_DIR },
});
const s = h.session({ id: "ses_shared" });
await s.run("one");
await s.run("two");
await s.close();
process.stdout.write("closed\\n");
process.stdin.destroy();
`;

function startChild(dir: string, echoFirst = false) {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD], {
    cwd: ROOT,
    env: { ...process.env, AUDIT_DIR: dir, ECHO_FIRST: echoFirst ? "1" : "0" },
  });
  let out = "";
  let err = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    for (const w of waiters.filter((w) => out.includes(w.text))) w.resolve();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const printed = (text: string) =>
    new Promise<void>((res, rej) => {
      if (out.includes(text)) return res();
      waiters.push({ text, resolve: res });
      exited.then(() =>
        out.includes(text) ? res() : rej(new Error(`child exited without "${text}": ${err}`)),
      );
    });
  return { child: child as ChildProcessWithoutNullStreams, printed, exited, stderr: () => err };
}

function parentHarness(dir: string) {
  return createHarness({
    model: scriptedModel({ name: "parent", turns: [callTurn("echo", { text: "parent" }), { say: "done" }] }),
    tools: [echoTool],
    audit: { dir },
  });
}

const locked = (pid: number) =>
  expect.objectContaining({
    code: "REIN_AUDIT_LOCKED",
    message: expect.stringContaining(`is being written by pid ${pid} on host ${hostname()}`),
  });

describe("one writer per audit trail (a lock file beside it)", () => {
  it("a second process cannot write a trail another process is writing; it can once the lock is released", async () => {
    const dir = tempDir();
    const c = startChild(dir);
    await c.printed("holding");
    const trail = join(dir, "ses_shared.jsonl");
    expect(JSON.parse(readFileSync(`${trail}.lock`, "utf8"))).toMatchObject({
      pid: c.child.pid,
      host: hostname(),
    });
    // Reopening the trail while the child holds it: refused, naming the holder.
    expect(() => parentHarness(dir).session({ id: "ses_shared" })).toThrow(locked(c.child.pid!));
    expect(() => new AuditTrail(trail)).toThrow(locked(c.child.pid!));

    c.child.stdin.write("go\n");
    await c.printed("closed");
    expect(await c.exited).toBe(0);
    expect(existsSync(`${trail}.lock`)).toBe(false); // released on close

    const h = parentHarness(dir);
    const session = h.session({ id: "ses_shared" });
    expect((await session.run("after")).status).toBe("completed");
    await session.close();
    expect(verifyAuditFile(trail)).toMatchObject({ ok: true, status: "sealed", records: 3 });
  });

  it("a run in another process fails closed (REIN_AUDIT_LOCKED) before any tool runs", async () => {
    const dir = tempDir();
    // The parent opens the session first (the file does not exist yet), then the child takes the lock.
    const session = parentHarness(dir).session({ id: "ses_shared" });
    const c = startChild(dir);
    await c.printed("holding");
    const result = await session.run("while the child writes");
    expect(result.stopReason).toMatchObject({ type: "error", code: "REIN_AUDIT_LOCKED" });
    expect(result.toolCalls).toBe(0);
    c.child.stdin.write("go\n");
    expect(await c.exited).toBe(0);
    expect(verifyAuditFile(join(dir, "ses_shared.jsonl"))).toMatchObject({
      ok: true,
      status: "sealed",
      records: 2,
    });
  });

  it("a lock left by a writer killed on this host is taken over; the trail it left sealed is continued", async () => {
    const dir = tempDir();
    const c = startChild(dir);
    await c.printed("holding"); // run 2 is inside its tool call; the trail ends with run 1's seal
    c.child.kill("SIGKILL");
    await c.exited;
    const trail = join(dir, "ses_shared.jsonl");
    expect(JSON.parse(readFileSync(`${trail}.lock`, "utf8"))).toMatchObject({ pid: c.child.pid });

    const session = parentHarness(dir).session({ id: "ses_shared" });
    expect((await session.run("after the crash")).status).toBe("completed");
    await session.close();
    expect(existsSync(`${trail}.lock`)).toBe(false);
    expect(verifyAuditFile(trail)).toMatchObject({ ok: true, status: "sealed", records: 2 });
  });

  it("a writer killed after an unsealed record leaves a trail reported unsealed, which is not continued", async () => {
    const dir = tempDir();
    const c = startChild(dir, true);
    await c.printed("holding"); // run 2 recorded its echo, then blocked: that record follows no seal
    c.child.kill("SIGKILL");
    await c.exited;
    const trail = join(dir, "ses_shared.jsonl");
    expect(verifyAuditFile(trail)).toMatchObject({
      ok: false,
      status: "unsealed",
      unsealedRecords: 1,
      records: 2,
    });
    // The dead writer's lock is taken over (the error is not REIN_AUDIT_LOCKED), and the unsealed trail refused.
    expect(() => parentHarness(dir).session({ id: "ses_shared" })).toThrow(
      expect.objectContaining({
        code: "REIN_AUDIT_INVALID",
        message: expect.stringContaining("follows no seal"),
      }),
    );
    expect(existsSync(`${trail}.lock`)).toBe(false);
  });

  it("a lock held on another host is never taken over: its pid cannot be checked from here", () => {
    const dir = tempDir();
    const trail = join(dir, "ses_remote.jsonl");
    writeFileSync(trail, "");
    writeFileSync(
      `${trail}.lock`,
      JSON.stringify({ pid: 999_999, host: "elsewhere.example", nonce: "n", since: 0 }),
    );
    expect(() => new AuditTrail(trail)).toThrow(
      expect.objectContaining({
        code: "REIN_AUDIT_LOCKED",
        message: expect.stringContaining("pid 999999 on host elsewhere.example"),
      }),
    );
    expect(existsSync(`${trail}.lock`)).toBe(true);
  });

  it("within one process, the lock is held during a run and released between runs and on close", async () => {
    const dir = tempDir();
    const seen: unknown[] = [];
    const probe = defineTool({
      name: "probe",
      description: "reads the lock",
      input: z.object({}),
      risk: { level: "LOW", reason: "reads" },
      execute: () => {
        seen.push(JSON.parse(readFileSync(join(dir, "ses_probe.jsonl.lock"), "utf8")));
        // A second trail object on the same file in this process: refused while the first one writes.
        try {
          new AuditTrail(join(dir, "ses_probe.jsonl"));
          seen.push("second writer accepted");
        } catch (err) {
          seen.push((err as Error).message);
        }
        return "ok";
      },
    });
    const h = createHarness({
      model: scriptedModel({
        name: "probe",
        turns: [callTurn("probe"), { say: "a" }, callTurn("probe"), { say: "b" }],
      }),
      tools: [probe],
      audit: { dir },
    });
    const session = h.session({ id: "ses_probe" });
    const trail = join(dir, "ses_probe.jsonl");
    const descriptorsOnTrail = () =>
      readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === trail;
        } catch {
          return false;
        }
      }).length;
    await session.run("one");
    expect(existsSync(join(dir, "ses_probe.jsonl.lock"))).toBe(false);
    expect(descriptorsOnTrail()).toBe(0);
    await session.run("two");
    const holder = expect.objectContaining({ pid: process.pid, host: hostname() });
    const refused = expect.stringContaining(`pid ${process.pid} on host ${hostname()} (this process`);
    expect(seen).toEqual([holder, refused, holder, refused]);
    await session.close();
    expect(existsSync(join(dir, "ses_probe.jsonl.lock"))).toBe(false);
    expect(descriptorsOnTrail()).toBe(0);
  });
});
