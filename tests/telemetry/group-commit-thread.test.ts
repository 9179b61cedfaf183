import { execFileSync } from "node:child_process";
import {
  appendFileSync,
  closeSync,
  constants,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GroupCommitWriter } from "../../src/telemetry/group-commit-writer.js";
import { tempDir } from "../helpers.js";

/** `path` (created empty) handed to `writer` with its descriptor open. */
/**
 * Two files through the thread with one descriptor between them: a wrote "one\n", then b's second
 * batch took the slot, so a's next batch makes the thread reopen a's file (and check it first).
 */
async function aClosedForB() {
  const dir = tempDir();
  const writer = new GroupCommitWriter({ maxOpenFiles: 1, threadFrom: 0, syncWritesPerTick: 0 });
  const a = join(dir, "a.jsonl");
  const fa = target(writer, a);
  const fb = target(writer, join(dir, "b.jsonl")); // takes the only slot: a's descriptor is closed
  fa.append("one\n");
  fb.append("x\n");
  await Promise.all([fa.sync(), fb.sync()]);
  expect(writer.threadStarted).toBe(true);
  fb.append("y\n");
  await fb.sync();
  return { dir, a, fa, fb };
}

function target(writer: GroupCommitWriter, path: string) {
  writeFileSync(path, "");
  const s = statSync(path);
  const fd = openSync(path, "a");
  return writer.file({ display: path, realFile: path, size: 0, fd, identity: `${s.dev}:${s.ino}` });
}

describe("the group-commit writer's thread: batches as numbers, failures as typed errors", () => {
  it("while many files go through the thread, nothing is written on the spot; a lone file afterwards is again", async () => {
    const dir = tempDir();
    const writer = new GroupCommitWriter();
    const files = Array.from({ length: 200 }, (_, i) => ({
      path: join(dir, `t${i}.jsonl`),
      f: target(writer, join(dir, `t${i}.jsonl`)),
    }));
    // Round 1: the turn's budget of on-the-spot writes (64), the next turn's (64), the rest to the thread.
    await Promise.all(
      files.map(({ f }) => {
        f.append("one\n");
        return f.sync();
      }),
    );
    expect(writer.threadStarted).toBe(true);
    const onTheSpot = writer.writesOnTheSpot;
    expect(onTheSpot).toBeLessThan(200);
    // Round 2: the last batch carried many files, so every file joins the thread's batch instead.
    await Promise.all(
      files.map(({ f }) => {
        f.append("two\n");
        return f.sync();
      }),
    );
    expect(writer.writesOnTheSpot).toBe(onTheSpot);
    for (const { path } of files) expect(readFileSync(path, "utf8")).toBe("one\ntwo\n");
    // A lone file: its first batch (one file) goes to the thread, which ends the busy spell; then on the spot.
    const lone = files[0]!;
    lone.f.append("three\n");
    await lone.f.sync();
    lone.f.append("four\n");
    const synced = lone.f.sync();
    expect(writer.writesOnTheSpot).toBe(onTheSpot + 1);
    expect(readFileSync(lone.path, "utf8")).toBe("one\ntwo\nthree\nfour\n");
    await synced;
    await Promise.all(files.map(({ f }) => f.release()));
    expect(writer.openFiles).toBe(0);
  });

  it("while a batch is in flight, what becomes due over several turns waits for it and goes as one batch", async () => {
    const dir = tempDir();
    // Nothing on the spot (a write to the FIFO there would block the event loop itself).
    const writer = new GroupCommitWriter({ threadFrom: 0, syncWritesPerTick: 0 });
    // A FIFO nobody reads yet: the thread's write of more than its buffer blocks until the test reads.
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const blocked = writer.file({
      display: fifo,
      realFile: fifo,
      size: 0,
      fd: openSync(fifo, "r+"),
      identity: "x",
    });
    const big = `${"x".repeat(256 * 1024)}\n`;
    blocked.append(big);
    const bigSynced = blocked.sync();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(writer.threadBatches).toBe(1);
    // Three files become due in three turns while the thread is blocked on the first batch.
    const files = [0, 1, 2].map((i) => target(writer, join(dir, `t${i}.jsonl`)));
    const synced: Promise<void>[] = [];
    for (const [i, f] of files.entries()) {
      f.append(`line ${i}\n`);
      synced.push(f.sync());
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect(writer.threadBatches).toBe(1);
    // Unblocked: the first batch comes back, then one batch carries the three files.
    let read = 0;
    const buffer = Buffer.alloc(64 * 1024);
    while (read < big.length) {
      try {
        read += readSync(reader, buffer);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    await bigSynced;
    await Promise.all(synced);
    expect(writer.threadBatches).toBe(2);
    expect(writer.writesOnTheSpot).toBe(0);
    for (const i of [0, 1, 2]) expect(readFileSync(join(dir, `t${i}.jsonl`), "utf8")).toBe(`line ${i}\n`);
    await Promise.all([blocked, ...files].map((f) => f.release()));
    closeSync(reader);
  });

  it("a write the thread cannot do (ENOSPC on /dev/full) is retried on the libuv path, then fails typed; the batch's other files are written", async () => {
    const dir = tempDir();
    const writer = new GroupCommitWriter({ threadFrom: 0, syncWritesPerTick: 0 });
    const fd = openSync("/dev/full", "a");
    const full = writer.file({ display: "/dev/full", realFile: "/dev/full", size: 0, fd, identity: "x" });
    const others = [0, 1, 2].map((i) => target(writer, join(dir, `ok${i}.jsonl`)));
    full.append("lost\n");
    for (const f of others) f.append("kept\n");
    const failed = expect(full.sync()).rejects.toMatchObject({
      code: "REIN_AUDIT_WRITE_FAILED",
      message: expect.stringContaining("ENOSPC"),
    });
    await Promise.all(others.map((f) => f.sync()));
    expect(writer.threadStarted).toBe(true);
    for (const i of [0, 1, 2]) expect(readFileSync(join(dir, `ok${i}.jsonl`), "utf8")).toBe("kept\n");
    await failed;
    await Promise.all(others.map((f) => f.release()));
  });

  it("with more files than descriptors, the files holding one keep it from batch to batch, the rest are written through the thread's transient slot; the bound holds", async () => {
    const dir = tempDir();
    // An hour: no descriptor is idle long enough to be given up while the test runs, however loaded.
    const writer = new GroupCommitWriter({
      maxOpenFiles: 4,
      threadFrom: 0,
      syncWritesPerTick: 0,
      evictIdleMs: 3_600_000,
    });
    const files = Array.from({ length: 10 }, (_, i) => target(writer, join(dir, `t${i}.jsonl`)));
    expect(writer.openFiles).toBeLessThanOrEqual(4);
    const held: (number | undefined)[][] = [];
    for (let round = 0; round < 4; round++) {
      for (const f of files) f.append(`line ${round}\n`);
      await Promise.all(files.map((f) => f.sync()));
      // One slot is the thread's, for the files it opens and closes in turn: three are held.
      expect(writer.openFiles).toBe(3);
      held.push(files.map((f) => f.fd));
    }
    expect(writer.threadStarted).toBe(true);
    // From the first batch on, the same three files keep the same descriptors: no file's descriptor is closed to open
    // another's (which, with files written in turn, made every write an open and a close).
    expect(held[0]!.filter((fd) => fd !== undefined)).toHaveLength(3);
    for (const round of held.slice(1)) expect(round).toEqual(held[0]);
    for (const i of files.keys())
      expect(readFileSync(join(dir, `t${i}.jsonl`), "utf8")).toBe("line 0\nline 1\nline 2\nline 3\n");
    await Promise.all(files.map((f) => f.release()));
    expect(writer.openFiles).toBe(0);
  });

  it("a file replaced between two batches is refused by the thread's reopen (REIN_AUDIT_INVALID); nothing is appended to the new one", async () => {
    const { dir, a, fa, fb } = await aClosedForB();
    renameSync(a, join(dir, "old.jsonl"));
    writeFileSync(a, "one\n");
    fa.append("two\n");
    await expect(fa.sync()).rejects.toMatchObject({
      code: "REIN_AUDIT_INVALID",
      message: expect.stringContaining("replaced by another file"),
    });
    expect(readFileSync(a, "utf8")).toBe("one\n");
    await fb.release();
  });

  it("a file another writer appended to between two batches is refused by the thread's reopen (REIN_AUDIT_INVALID, the size found)", async () => {
    const { a, fa, fb } = await aClosedForB();
    appendFileSync(a, "forged\n");
    fa.append("two\n");
    await expect(fa.sync()).rejects.toMatchObject({
      code: "REIN_AUDIT_INVALID",
      message: expect.stringContaining("expected 4 bytes, found 11"),
    });
    expect(readFileSync(a, "utf8")).toBe("one\nforged\n");
    await fb.release();
  });
});
