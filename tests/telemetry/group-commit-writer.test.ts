import { openSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GroupCommitWriter } from "../../src/telemetry/group-commit-writer.js";
import { tempDir } from "../helpers.js";

function target(writer: GroupCommitWriter, path: string) {
  const fd = openSync(path, "a");
  return writer.file({ display: path, realFile: path, size: 0, fd, identity: identityOf(path) });
}

function identityOf(path: string): string {
  const s = statSync(path);
  return `${s.dev}:${s.ino}`;
}

describe("the shared group-commit writer", () => {
  it("writes many files through a bounded number of descriptors; sync() resolves once each file's lines are written", async () => {
    const dir = tempDir();
    const writer = new GroupCommitWriter({ maxOpenFiles: 2, syncWritesPerTick: 0 });
    const files = Array.from({ length: 10 }, (_, i) => {
      const path = join(dir, `t${i}.jsonl`);
      writeFileSync(path, "");
      return { path, f: target(writer, path) };
    });
    expect(writer.openFiles).toBeLessThanOrEqual(2);
    for (let round = 0; round < 3; round++) for (const { f } of files) f.append(`line ${round}\n`);
    await Promise.all(files.map(({ f }) => f.sync()));
    expect(writer.openFiles).toBeLessThanOrEqual(2);
    for (const { path } of files) expect(readFileSync(path, "utf8")).toBe("line 0\nline 1\nline 2\n");
    await Promise.all(files.map(({ f }) => f.release()));
    expect(writer.openFiles).toBe(0);
  });

  it("writes on the spot at most syncWritesPerTick times per turn; the next turn's flush spends the new budget first, the rest goes to the pool", async () => {
    const dir = tempDir();
    const writer = new GroupCommitWriter({ syncWritesPerTick: 2 });
    const files = Array.from({ length: 5 }, (_, i) => {
      const path = join(dir, `t${i}.jsonl`);
      writeFileSync(path, "");
      return { path, f: target(writer, path) };
    });
    // One turn: five sessions each append a line and ask for it to be durable.
    const synced = files.map(({ f }) => {
      f.append("one\n");
      return f.sync();
    });
    expect(files.map(({ f }) => f.written)).toEqual([1, 1, 0, 0, 0]);
    // The writer's turn callback was scheduled before this one, so it has run: two more written on
    // the spot; the fifth went to the libuv pool, whose callback cannot have run within this phase.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(files.map(({ f }) => f.written)).toEqual([1, 1, 1, 1, 0]);
    await Promise.all(synced);
    for (const { path } of files) expect(readFileSync(path, "utf8")).toBe("one\n");

    // A lone session that never yields: its third sync in one turn waits for the next turn's budget,
    // and is then written on the spot, not through the pool. (First a fresh turn: this one's budget
    // went to the flush above.)
    await new Promise<void>((resolve) => setImmediate(resolve));
    const { path, f } = files[0]!;
    const lone = [1, 2, 3].map((n) => {
      f.append(`${n}\n`);
      return f.sync();
    });
    expect(f.written).toBe(3);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(f.written).toBe(4);
    await Promise.all(lone);
    expect(readFileSync(path, "utf8")).toBe("one\n1\n2\n3\n");
    await Promise.all(files.map(({ f }) => f.release()));
    expect(writer.openFiles).toBe(0);
  });

  it("a file replaced between two batches fails its writer (REIN_AUDIT_INVALID), nothing is appended to the new one", async () => {
    const dir = tempDir();
    const writer = new GroupCommitWriter({ maxOpenFiles: 1, syncWritesPerTick: 0 });
    const a = join(dir, "a.jsonl");
    const b = join(dir, "b.jsonl");
    writeFileSync(a, "");
    writeFileSync(b, "");
    const fa = target(writer, a);
    const fb = target(writer, b); // takes the only slot: a's descriptor is closed
    fa.append("one\n");
    fb.append("x\n");
    await Promise.all([fa.sync(), fb.sync()]);
    // a is swapped for another file; its next batch must reopen it and finds another inode.
    renameSync(a, join(dir, "old.jsonl"));
    writeFileSync(a, "one\n");
    fb.append("y\n");
    await fb.sync();
    fa.append("two\n");
    await expect(fa.sync()).rejects.toMatchObject({ code: "REIN_AUDIT_INVALID" });
    expect(readFileSync(a, "utf8")).toBe("one\n");
    expect(() => fa.append("three\n")).toThrow(expect.objectContaining({ code: "REIN_AUDIT_INVALID" }));
  });

  it("a write that keeps failing (ENOSPC on /dev/full) is retried, then fails typed (REIN_AUDIT_WRITE_FAILED)", async () => {
    const writer = new GroupCommitWriter({ syncWritesPerTick: 0 });
    const fd = openSync("/dev/full", "a");
    const f = writer.file({ display: "/dev/full", realFile: "/dev/full", size: 0, fd, identity: "x" });
    f.append("lost\n");
    const started = performance.now();
    await expect(f.sync()).rejects.toMatchObject({
      code: "REIN_AUDIT_WRITE_FAILED",
      message: expect.stringContaining("ENOSPC"),
    });
    // 8 attempts with backoff 5, 10, … 320 ms between them: it was retried, not failed at once.
    expect(performance.now() - started).toBeGreaterThan(600);
  });
  it("appendLater: sync() does not wait for the line; it is written, in order, with the next appended line, by the next turn's batch at the latest, and on release", async () => {
    const dir = tempDir();
    const path = join(dir, "later.jsonl");
    writeFileSync(path, "");
    const writer = new GroupCommitWriter();
    const f = target(writer, path);
    f.append("intent 1\n");
    await f.sync();
    expect(readFileSync(path, "utf8")).toBe("intent 1\n");
    // A finished call's record: the caller goes on without a write of its own.
    f.appendLater("record 1\n");
    await f.sync();
    expect(readFileSync(path, "utf8")).toBe("intent 1\n");
    // The next call's intent carries it: both are written before sync() resolves, the record first.
    f.append("intent 2\n");
    await f.sync();
    expect(readFileSync(path, "utf8")).toBe("intent 1\nrecord 1\nintent 2\n");
    expect(f.written).toBe(f.appended);
    // Nothing comes after it: the writer's turn callback, queued when it was appended (before the
    // one below), writes it on the spot.
    f.appendLater("record 2\n");
    expect(readFileSync(path, "utf8")).toBe("intent 1\nrecord 1\nintent 2\n");
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(readFileSync(path, "utf8")).toBe("intent 1\nrecord 1\nintent 2\nrecord 2\n");
    // Released at once after it: release() writes it before the descriptor closes.
    f.appendLater("record 3\n");
    await f.release();
    expect(readFileSync(path, "utf8")).toBe("intent 1\nrecord 1\nintent 2\nrecord 2\nrecord 3\n");
    expect(writer.openFiles).toBe(0);
  });
});
