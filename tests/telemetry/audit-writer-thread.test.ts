import { openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createHarness, defineTool, verifyAuditFile } from "../../src/index.js";
import type { ReinEvent } from "../../src/protocol/events.js";
import { AuditTrail } from "../../src/telemetry/audit-trail.js";
import { GroupCommitWriter } from "../../src/telemetry/group-commit-writer.js";
import { scriptedModel } from "../../src/testing.js";
import { loopTurns, tempDir } from "../helpers.js";

const runStarted = {
  type: "run_started",
  runId: "run_1",
  sessionId: "s",
  seq: 0,
  ts: 0,
} as unknown as ReinEvent;

describe("the audit writer's thread (locks, opens and batches of many trails)", () => {
  it("a run's lock is a hard link to the process's owner file; a second writer of the same trail in this process is refused (REIN_AUDIT_LOCKED); nothing is left once released", async () => {
    const dir = tempDir();
    const file = join(dir, "t.jsonl");
    // A writer whose thread serves even one trail (by default it starts for 8 opening at once).
    const writer = new GroupCommitWriter({ threadFrom: 0 });
    const first = new AuditTrail(file, { writer });
    first.handle(runStarted);
    await first.ready();
    const lock = statSync(`${file}.lock`);
    // Linked, not written anew: the owner file and the lock are one inode.
    expect(lock.nlink).toBe(2);
    const owners = readdirSync(dir).filter((f) => f.startsWith(".rein-lock."));
    expect(owners).toHaveLength(1);
    expect(statSync(join(dir, owners[0]!)).ino).toBe(lock.ino);

    // Checked when constructed (the file exists): the synchronous path reads the linked owner.
    expect(() => new AuditTrail(file)).toThrow(expect.objectContaining({ code: "REIN_AUDIT_LOCKED" }));
    // Checked when its run starts (a trail the harness names): the thread's link finds the lock taken.
    const second = new AuditTrail(file, { writer, fresh: { realDir: dir } });
    second.handle(runStarted);
    await expect(second.ready()).rejects.toMatchObject({ code: "REIN_AUDIT_LOCKED" });
    await second.close().catch(() => {});

    await first.close();
    expect(writer.threadStarted).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["t.jsonl"]);
  });

  it("the lock and the open are one job of the thread: a planted file found by that open is refused (REIN_AUDIT_INVALID) and the lock taken with it is released", async () => {
    const dir = tempDir();
    const file = join(dir, "t.jsonl");
    const writer = new GroupCommitWriter({ threadFrom: 0 });
    // A trail the harness names (its file must be new): someone planted one there first.
    writeFileSync(file, '{"planted":true}\n');
    const trail = new AuditTrail(file, { writer, fresh: { realDir: dir } });
    trail.handle(runStarted);
    await expect(trail.ready()).rejects.toMatchObject({
      code: "REIN_AUDIT_INVALID",
      message: expect.stringContaining("found 17 bytes"),
    });
    await trail.close().catch(() => {});
    expect(writer.threadStarted).toBe(true);
    expect(writer.openFiles).toBe(0);
    // Nothing was appended, and neither the lock nor the owner file is left.
    expect(readFileSync(file, "utf8")).toBe('{"planted":true}\n');
    expect(readdirSync(dir).sort()).toEqual(["t.jsonl"]);
    // The same trail name, once the planted file is gone: the next lock is taken and released again.
    rmSync(file);
    const again = new AuditTrail(file, { writer, fresh: { realDir: dir } });
    again.handle(runStarted);
    await again.ready();
    expect(statSync(`${file}.lock`).nlink).toBe(2);
    await again.close();
    expect(readdirSync(dir).sort()).toEqual(["t.jsonl"]);
  });

  it("a lone trail does not start the thread: its lock is a file of its own, written then linked, on the libuv pool", async () => {
    const dir = tempDir();
    const file = join(dir, "t.jsonl");
    const writer = new GroupCommitWriter();
    const trail = new AuditTrail(file, { writer });
    trail.handle(runStarted);
    await trail.ready();
    // Its own inode (the temporary name is gone): not linked to an owner file.
    expect(statSync(`${file}.lock`).nlink).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(["t.jsonl", "t.jsonl.lock"]);
    await trail.close();
    expect(writer.threadStarted).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(["t.jsonl"]);
  });

  it("300 concurrent sessions, more than the shared writer's 256 descriptors: every trail verifies, and no lock or owner file is left", async () => {
    const auditDir = tempDir();
    const act = defineTool({
      name: "act",
      description: "changes something",
      input: z.object({}),
      risk: { level: "LOW", reason: "test" },
      execute: () => "ok",
    });
    const harness = createHarness({
      model: scriptedModel({
        name: "m",
        turns: [{ tool_calls: [{ tool: "act", input: {} }], repeat: 3 }, { say: "done" }],
      }),
      tools: [act],
      audit: { dir: auditDir },
      limits: { maxTurns: 4 },
    });
    const sessions = Array.from({ length: 300 }, () => harness.session());
    const results = await Promise.all(sessions.map((s) => s.run("go")));
    expect(results.map((r) => `${r.status}:${r.toolCalls}`)).toEqual(results.map(() => "completed:3"));
    await Promise.all(sessions.map((s) => s.close()));
    for (const s of sessions)
      expect(verifyAuditFile(harness.auditFile(s.id)!)).toMatchObject({ ok: true, records: 3 });
    expect(readdirSync(auditDir).filter((f) => !f.endsWith(".jsonl"))).toEqual([]);
  });

  it("trails beyond the writer's descriptors are checked and closed again when their runs open, then written through the thread's transient slot: no run waits for another to end, all verify, nothing is left", async () => {
    const dir = tempDir();
    // Three descriptors, one of them the thread's: two trails hold one; an hour, so none is given up.
    const writer = new GroupCommitWriter({ maxOpenFiles: 3, threadFrom: 0, evictIdleMs: 3_600_000 });
    const trails = Array.from(
      { length: 6 },
      (_, i) => new AuditTrail(join(dir, `t${i}.jsonl`), { writer, fresh: { realDir: dir } }),
    );
    const ev = (type: string, seq: number, data: unknown) =>
      ({
        type,
        runId: "run_1",
        sessionId: "s",
        tenantId: "default",
        seq,
        ts: seq,
        data,
      }) as unknown as ReinEvent;
    for (const t of trails) t.handle(runStarted);
    // All six runs open at once (each holds its lock): before, the fourth waited for a descriptor
    // until another trail's run ended.
    await Promise.all(trails.map((t) => t.ready()));
    expect(writer.openFiles).toBeLessThanOrEqual(2);
    // Each run holds its lock: six links to the process's owner file, and the file itself.
    for (const t of trails) expect(statSync(`${t.file}.lock`).nlink).toBe(7);
    for (let call = 1; call <= 3; call++) {
      for (const t of trails) {
        const callId = `call_${call}`;
        t.handle(ev("tool_call_requested", call * 10, { turn: call, callId, tool: "act", input: {} }));
        t.handle(
          ev("tool_call_started", call * 10 + 1, {
            turn: call,
            callId,
            tool: "act",
            idempotencyKey: callId,
            input: {},
          }),
        );
      }
      await Promise.all(trails.map((t) => t.sync()));
      expect(writer.openFiles).toBeLessThanOrEqual(3);
      for (const t of trails)
        t.handle(
          ev("tool_call_finished", call * 10 + 2, {
            turn: call,
            callId: `call_${call}`,
            tool: "act",
            executed: true,
            ok: true,
            errorType: null,
            content: "ok",
            truncated: false,
            durationMs: 1,
            stages: [],
          }),
        );
    }
    for (const t of trails) t.handle(ev("run_ended", 99, {}));
    await Promise.all(trails.map((t) => t.close()));
    expect(writer.threadStarted).toBe(true);
    expect(writer.openFiles).toBe(0);
    for (const t of trails) expect(verifyAuditFile(t.file)).toMatchObject({ ok: true, records: 3, seals: 1 });
    expect(readdirSync(dir).sort()).toEqual(trails.map((_, i) => `t${i}.jsonl`));
  });

  it("one batch for 200 files goes to the thread; their writers resume at most 64 per turn of the event loop", async () => {
    const dir = tempDir();
    const writer = new GroupCommitWriter({ syncWritesPerTick: 0 });
    const files = emptyFiles(writer, dir, 200);
    const turn = loopTurns();
    const resumedIn = new Map<number, number>();
    await Promise.all(
      files.map(({ f }, i) => {
        f.append(`line ${i}\n`);
        return f.sync().then(() => resumedIn.set(turn.now, (resumedIn.get(turn.now) ?? 0) + 1));
      }),
    );
    turn.stop();
    expect([...resumedIn.values()].reduce((a, b) => a + b, 0)).toBe(200);
    expect(Math.max(...resumedIn.values())).toBeLessThanOrEqual(64);
    expect(resumedIn.size).toBeGreaterThanOrEqual(4);
    for (const [i, { path }] of files.entries()) expect(readFileSync(path, "utf8")).toBe(`line ${i}\n`);
    await Promise.all(files.map(({ f }) => f.release()));
    expect(writer.openFiles).toBe(0);
  });

  it("a turn resumes writers for about 1 ms of their work: writers that each work 2 ms resume one per turn", async () => {
    const dir = tempDir();
    const writer = new GroupCommitWriter({ syncWritesPerTick: 0 });
    const files = emptyFiles(writer, dir, 20);
    const turns: number[] = [];
    const turn = loopTurns();
    await Promise.all(
      files.map(({ f }, i) => {
        f.append(`line ${i}\n`);
        return (
          f
            .sync()
            // Work after the write (a session's tool and next step), then one more microtask hop: the
            // next writer must not resume before all of it has run.
            .then(() => {
              const until = performance.now() + 2;
              while (performance.now() < until) {}
            })
            .then(() => turns.push(turn.now))
        );
      }),
    );
    turn.stop();
    expect(writer.threadStarted).toBe(true);
    expect(turns).toHaveLength(20);
    // One resumed writer per turn of the event loop: the work each did spent the turn's budget.
    expect(new Set(turns).size).toBe(20);
    for (const [i, { path }] of files.entries()) expect(readFileSync(path, "utf8")).toBe(`line ${i}\n`);
    await Promise.all(files.map(({ f }) => f.release()));
  });

  it("without the thread (writerThread: false) the libuv path writes the same lines through the same bound", async () => {
    const dir = tempDir();
    const writer = new GroupCommitWriter({ maxOpenFiles: 2, syncWritesPerTick: 0, writerThread: false });
    const files = emptyFiles(writer, dir, 10);
    for (let round = 0; round < 3; round++) for (const { f } of files) f.append(`line ${round}\n`);
    await Promise.all(files.map(({ f }) => f.sync()));
    expect(writer.openFiles).toBeLessThanOrEqual(2);
    for (const { path } of files) expect(readFileSync(path, "utf8")).toBe("line 0\nline 1\nline 2\n");
    await Promise.all(files.map(({ f }) => f.release()));
    expect(writer.openFiles).toBe(0);
  });
});

/** `n` empty trails `t0.jsonl`… in `dir`, each handed to `writer` with its descriptor open. */
function emptyFiles(writer: GroupCommitWriter, dir: string, n: number) {
  return Array.from({ length: n }, (_, i) => {
    const path = join(dir, `t${i}.jsonl`);
    writeFileSync(path, "");
    const s = statSync(path);
    return {
      path,
      f: writer.file({
        display: path,
        realFile: path,
        size: 0,
        fd: openSync(path, "a"),
        identity: `${s.dev}:${s.ino}`,
      }),
    };
  });
}
