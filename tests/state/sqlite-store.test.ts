import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EVENT_VERSION, type ReinEvent } from "../../src/protocol/events.js";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/state/sqlite-schema.js";
import { PAGE_SIZE, SqliteStore } from "../../src/state/sqlite-store.js";

const dir = mkdtempSync(join(tmpdir(), "rein-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const scope = { tenantId: "local", sessionId: "ses_a" };
const ev = (seq: number): ReinEvent =>
  ({
    v: EVENT_VERSION,
    seq,
    ...scope,
    runId: "r",
    ts: seq,
    type: "text_delta",
    data: { turn: 1, delta: "x" },
  }) as ReinEvent;

describe("SqliteStore", () => {
  it("opens a database written by schema v1 (golden fixture) and reads its session, ledger and approval", async () => {
    const file = join(dir, "v1.db");
    copyFileSync(join(import.meta.dirname, "../fixtures/rein-v1.db"), file);
    const store = await SqliteStore.open(file);
    try {
      const s = { tenantId: "local", sessionId: "ses_fixture" };
      expect(store.eventLog.read(s, 0).map((e) => e.type)).toEqual(["session_started", "run_started"]);
      expect(store.sessions.get(s)).toMatchObject({
        status: "running",
        model: "scripted:fixture",
        lastSeq: 2,
      });
      expect(store.ledger.openReservations(s)).toEqual([
        { key: "run_fixture:1", model: "scripted:fixture", estimateUsd: 0.02, estimateTokens: 100 },
      ]);
      expect(store.approvals.get("apr_fixture")).toMatchObject({ status: "pending", tool: "append_line" });
    } finally {
      await store.close();
    }
  });

  // rein-v2.db: rein-v1.db opened by schema v2 (migrated), then one more event appended and one more
  // reservation opened through the store, and closed (the WAL checkpointed into the file).
  it("opens a database written by schema v2 (golden fixture): its events, both reservations in the order opened", async () => {
    const file = join(dir, "v2.db");
    copyFileSync(join(import.meta.dirname, "../fixtures/rein-v2.db"), file);
    const store = await SqliteStore.open(file);
    try {
      const s = { tenantId: "local", sessionId: "ses_fixture" };
      expect(store.eventLog.read(s, 0).map((e) => e.type)).toEqual([
        "session_started",
        "run_started",
        "model_call_started",
      ]);
      expect(store.sessions.get(s)).toMatchObject({ status: "running", lastSeq: 3 });
      expect(store.ledger.openReservations(s)).toEqual([
        { key: "run_fixture:1", model: "scripted:fixture", estimateUsd: 0.02, estimateTokens: 100 },
        { key: "run_fixture:1:call_1", model: "tool:append_line", estimateUsd: 0.01, estimateTokens: 0 },
      ]);
      expect(store.ledger.totals(s)).toMatchObject({ reservedUsd: 0.03 });
      expect(store.approvals.get("apr_fixture")).toMatchObject({ status: "pending", tool: "append_line" });
      // The migrated file still takes appends and reservations.
      store.eventLog.append({ ...ev(4), ...s } as ReinEvent);
      expect(
        store.ledger.reserve(s, { key: "run_fixture:2", model: "m", estimateUsd: 0.01 }),
      ).toBeUndefined();
      await store.eventLog.sync?.();
      expect(store.eventLog.lastSeq(s)).toBe(4);
    } finally {
      await store.close();
    }
    // It keeps the page size it was written with (4096): only a new file gets the store's.
    expect(readFileSync(file).readUInt16BE(16)).toBe(4096);
    expect(PAGE_SIZE).not.toBe(4096);
  });

  it("the v1 to v2 migration keeps every session's events in seq order and reservations in the order they were opened", async () => {
    const file = join(dir, "migrate.db");
    const { DatabaseSync } = await import("node:sqlite");
    const v1 = new DatabaseSync(file);
    v1.exec("PRAGMA journal_mode = WAL");
    v1.exec("CREATE TABLE rein_schema (version INTEGER NOT NULL)");
    v1.exec(MIGRATIONS[0]!);
    v1.exec("INSERT INTO rein_schema (version) VALUES (1)");
    const insert = v1.prepare("INSERT INTO events (tenant, session, seq, type, body) VALUES (?, ?, ?, ?, ?)");
    // Interleaved sessions, written out of key order.
    for (const [session, seq] of [
      ["ses_b", 1],
      ["ses_a", 2],
      ["ses_a", 1],
      ["ses_b", 2],
    ] as const)
      insert.run("local", session, seq, "text_delta", JSON.stringify({ ...ev(seq), sessionId: session }));
    // Opened "z" then "a": the order openReservations reports is the order opened, not the key order.
    const res = v1.prepare(
      "INSERT INTO reservations (tenant, session, key, model, est_usd, est_tokens, budgets) VALUES ('local', 'ses_a', ?, 'm', 0.1, 10, '[]')",
    );
    res.run("z");
    res.run("a");
    v1.close();
    const store = await SqliteStore.open(file);
    try {
      for (const sessionId of ["ses_a", "ses_b"])
        expect(
          store.eventLog.read({ tenantId: "local", sessionId }, 0).map((e) => [e.sessionId, e.seq]),
        ).toEqual([
          [sessionId, 1],
          [sessionId, 2],
        ]);
      const a = { tenantId: "local", sessionId: "ses_a" };
      expect(store.ledger.openReservations(a).map((r) => r.key)).toEqual(["z", "a"]);
      // A reservation opened after the migration comes after them.
      store.ledger.reserve(a, { key: "m", model: "m", estimateUsd: 0.1 });
      expect(store.ledger.openReservations(a).map((r) => r.key)).toEqual(["z", "a", "m"]);
      expect(() => store.eventLog.append({ ...ev(2), sessionId: "ses_a" } as ReinEvent)).toThrow(
        expect.objectContaining({ code: "REIN_EVENT_LOG_REJECTED" }),
      );
    } finally {
      await store.close();
    }
  });

  it("reserving a key another process holds open is refused with REIN_LEDGER_REJECTED; nothing is reserved and the store stays writable", async () => {
    const file = join(dir, "dup.db");
    const a = await SqliteStore.open(file);
    const b = await SqliteStore.open(file);
    const s = { tenantId: "t", sessionId: "s1" };
    const ceilings = [{ account: "budget:team" as const, maxCostUsd: 1 }];
    try {
      expect(
        a.ledger.reserve(s, { key: "k", model: "m", estimateUsd: 0.4, runId: "r1", ceilings }),
      ).toBeUndefined();
      // Refused whether or not its ceiling would also refuse it.
      for (const estimateUsd of [0.1, 5])
        expect(() =>
          b.ledger.reserve(s, { key: "k", model: "m", estimateUsd, runId: "r2", ceilings }),
        ).toThrow(
          expect.objectContaining({
            code: "REIN_LEDGER_REJECTED",
            message: expect.stringContaining('"k" is already open'),
          }),
        );
      expect(b.ledger.totals(s).reservedUsd).toBe(0.4);
      expect(b.ledger.usageOf(s, "budget:team").reservedUsd).toBe(0.4);
      expect(b.ledger.openReservations(s)).toEqual([
        { key: "k", model: "m", estimateUsd: 0.4, estimateTokens: 0 },
      ]);
      // b's store still commits, and b can settle the reservation a opened (a resume in another process).
      b.eventLog.append({ ...ev(1), ...s } as ReinEvent);
      b.ledger.settle(s, "k", {
        usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 },
        costUsd: 0.2,
      });
      await b.eventLog.sync?.();
      expect(a.ledger.totals(s)).toMatchObject({ costUsd: 0.2, reservedUsd: 0, calls: 1 });
      expect(a.ledger.openReservations(s)).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("a ceiling refusal leaves no reservation behind, and the key can be reserved once there is room", async () => {
    const file = join(dir, "refuse.db");
    const store = await SqliteStore.open(file);
    const s = { tenantId: "t", sessionId: "s1" };
    const ceilings = [{ account: "budget:team" as const, maxCostUsd: 1 }];
    try {
      expect(store.ledger.reserve(s, { key: "k", model: "m", estimateUsd: 2, ceilings })).toMatchObject({
        refused: true,
        account: "budget:team",
      });
      expect(store.ledger.openReservations(s)).toEqual([]);
      expect(store.ledger.totals(s).reservedUsd).toBe(0);
      expect(store.ledger.reserve(s, { key: "k", model: "m", estimateUsd: 0.5, ceilings })).toBeUndefined();
      expect(store.ledger.openReservations(s).map((r) => r.key)).toEqual(["k"]);
    } finally {
      await store.close();
    }
  });

  it("refuses a database of a newer schema version, naming both versions", async () => {
    const file = join(dir, "newer.db");
    const store = await SqliteStore.open(file);
    await store.close();
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(file);
    db.prepare("INSERT INTO rein_schema (version) VALUES (?)").run(SCHEMA_VERSION + 1);
    db.close();
    await expect(SqliteStore.open(file)).rejects.toMatchObject({
      code: "REIN_STORE_SCHEMA_UNSUPPORTED",
      message: expect.stringContaining(`schema version ${SCHEMA_VERSION + 1}`),
    });
  });

  it("group commit: appends do not reach the file until the tick's batch commits; sync resolves after it", async () => {
    const file = join(dir, "batch.db");
    const store = await SqliteStore.open(file);
    const { DatabaseSync } = await import("node:sqlite");
    const other = new DatabaseSync(file);
    // Events in the file (one row holds a session's events of one batch).
    const count = () =>
      (
        other.prepare("SELECT coalesce(sum(json_array_length(body)), 0) AS n FROM events").get() as {
          n: number;
        }
      ).n;
    try {
      for (let s = 1; s <= 100; s++) store.eventLog.append(ev(s));
      expect(count()).toBe(0); // still buffered: no write per append
      expect(store.eventLog.read(scope, 98).map((e) => e.seq)).toEqual([99, 100]); // but readable here
      await store.eventLog.sync?.();
      expect(count()).toBe(100);
    } finally {
      other.close();
      await store.close();
    }
  });

  it("one row per session per batch: reads from inside a row start after afterSeq and stop at limit", async () => {
    const file = join(dir, "rows.db");
    const store = await SqliteStore.open(file);
    const other = { ...scope, sessionId: "ses_other" };
    try {
      for (let s = 1; s <= 10; s++) {
        store.eventLog.append(ev(s));
        store.eventLog.append({ ...ev(s), ...other } as ReinEvent);
      }
      await store.eventLog.sync?.();
      for (let s = 11; s <= 12; s++) store.eventLog.append(ev(s));
      await store.eventLog.sync?.();
      const { DatabaseSync } = await import("node:sqlite");
      const db = new DatabaseSync(file, { readOnly: true });
      const rows = db.prepare("SELECT session, first_seq, last_seq FROM events ORDER BY id").all();
      db.close();
      expect(rows.map((r) => ({ ...r }))).toEqual([
        { session: "ses_a", first_seq: 1, last_seq: 10 },
        { session: "ses_other", first_seq: 1, last_seq: 10 },
        { session: "ses_a", first_seq: 11, last_seq: 12 },
      ]);
      const fresh = await SqliteStore.open(file);
      try {
        expect(fresh.eventLog.read(scope, 3, 4).map((e) => e.seq)).toEqual([4, 5, 6, 7]);
        expect(fresh.eventLog.read(scope, 9, 2).map((e) => e.seq)).toEqual([10, 11]);
        expect(fresh.eventLog.read(scope, 0).map((e) => e.seq)).toEqual([
          1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ]);
        expect(fresh.eventLog.read(other, 0).every((e) => e.sessionId === "ses_other")).toBe(true);
        expect(fresh.eventLog.read(scope, 12)).toEqual([]);
        expect(fresh.eventLog.lastSeq(scope)).toBe(12);
        expect(fresh.sessions.get(scope)).toMatchObject({ lastSeq: 12, updatedAt: 12 });
      } finally {
        await fresh.close();
      }
    } finally {
      await store.close();
    }
  });

  it("a second writer appending a seq the file already holds fails its batch (REIN_STORE_FAILED); no seq is stored twice", async () => {
    const file = join(dir, "two-writers.db");
    const a = await SqliteStore.open(file);
    const b = await SqliteStore.open(file);
    try {
      // Both queue appends to the empty session in the same tick; a's batch commits first.
      a.eventLog.append(ev(1));
      a.eventLog.append(ev(2));
      b.eventLog.append(ev(2));
      await a.eventLog.sync?.();
      await expect(b.eventLog.sync?.()).rejects.toMatchObject({
        code: "REIN_STORE_FAILED",
        message: expect.stringContaining("already holds an event at seq 2 or later"),
      });
      expect(a.eventLog.read(scope, 0).map((e) => e.seq)).toEqual([1, 2]);
    } finally {
      await b.close().catch(() => {});
      await a.close();
    }
  });

  it("a loop step's two commits write about 6 pages of 2 KiB each (schema v2, a new file's page size), counted in the WAL", async () => {
    const file = join(dir, "pages.db");
    const store = await SqliteStore.open(file);
    const s = { tenantId: "local", sessionId: "ses_0123456789abcdef0123456789abcdef" };
    // Events the size of a no-op step's: the last result (~740 bytes), then 5 (~220 to ~710 bytes).
    const sized = (seq: number, bytes: number) =>
      ({ ...ev(seq), ...s, data: { turn: seq, delta: "x".repeat(bytes - 200) } }) as ReinEvent;
    let seq = 0;
    const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 };
    try {
      for (let step = 0; step < 300; step++) {
        store.eventLog.append(sized(++seq, 740));
        store.ledger.reserve(s, { key: `r:${step}`, model: "m", estimateUsd: 0.01, runId: "r" }); // commit 1
        for (const bytes of [220, 490, 240, 710, 300]) store.eventLog.append(sized(++seq, bytes));
        store.ledger.settle(s, `r:${step}`, { usage, costUsd: 0.001 });
        await store.eventLog.sync?.(); // commit 2
      }
      // WAL frames: a 24-byte header then the page; a commit's last frame records the database size.
      const wal = readFileSync(`${file}-wal`);
      const pageSize = wal.readUInt32BE(8);
      const salt = [wal.readUInt32BE(16), wal.readUInt32BE(20)];
      let frames = 0;
      let commits = 0;
      for (let off = 32; off + 24 + pageSize <= wal.length; off += 24 + pageSize) {
        if (wal.readUInt32BE(off + 8) !== salt[0] || wal.readUInt32BE(off + 12) !== salt[1]) break;
        frames++;
        if (wal.readUInt32BE(off + 4) !== 0) commits++;
      }
      expect(commits).toBeGreaterThanOrEqual(600);
      // Schema v1 (one WITHOUT ROWID row per event, reservations in two trees) wrote 6.6 pages per commit
      // here (7.7 in the state benchmark's loop); v2 writes 5.2 of 4 KiB (21 KB), or about 6 of 2 KiB.
      expect(pageSize).toBe(PAGE_SIZE);
      expect(frames / commits).toBeLessThan(7);
      expect((frames * (24 + pageSize)) / commits).toBeLessThan(14_000);
    } finally {
      await store.close();
    }
  });

  it("a batch that cannot commit rejects sync with REIN_STORE_FAILED, and later writes are refused", async () => {
    const file = join(dir, "fail.db");
    const store = await SqliteStore.open(file);
    store.eventLog.append(ev(1));
    await store.eventLog.sync?.();
    // Another connection holds the write lock past the busy timeout: the batch cannot commit.
    const { DatabaseSync } = await import("node:sqlite");
    const other = new DatabaseSync(file);
    other.exec("BEGIN IMMEDIATE");
    const slow = await SqliteStore.open(file, { busyTimeoutMs: 10 });
    try {
      slow.eventLog.append({ ...ev(2), sessionId: "ses_b" } as ReinEvent);
      await expect(slow.eventLog.sync?.()).rejects.toMatchObject({ code: "REIN_STORE_FAILED" });
      expect(() => slow.eventLog.append({ ...ev(3), sessionId: "ses_b" } as ReinEvent)).toThrow(
        expect.objectContaining({ code: "REIN_STORE_FAILED" }),
      );
    } finally {
      other.exec("ROLLBACK");
      other.close();
      await slow.close().catch(() => {});
      await store.close();
    }
  });

  it("two stores on one file share one budget: the second process's reservation sees the first's", async () => {
    const file = join(dir, "shared.db");
    const a = await SqliteStore.open(file);
    const b = await SqliteStore.open(file);
    const ceilings = [{ account: "budget:team" as const, maxCostUsd: 1 }];
    try {
      expect(
        a.ledger.reserve(
          { tenantId: "t", sessionId: "s1" },
          { key: "k", model: "m", estimateUsd: 0.6, ceilings },
        ),
      ).toBeUndefined();
      const refused = b.ledger.reserve(
        { tenantId: "t", sessionId: "s2" },
        { key: "k", model: "m", estimateUsd: 0.6, ceilings },
      );
      expect(refused).toMatchObject({ refused: true, account: "budget:team", reservedUsd: 0.6 });
    } finally {
      await a.close();
      await b.close();
    }
  });
  it("totals while settling (from the reserve's own row, no read) equal the file's once committed; each run's base is the session's cost before it", async () => {
    const file = join(dir, "totals.db");
    const a = await SqliteStore.open(file);
    const reader = await SqliteStore.open(file);
    const usage = { inputTokens: 3, outputTokens: 2, cacheReadTokens: 1, cacheWriteTokens: 0 };
    const s = { tenantId: "t", sessionId: "s1" };
    try {
      let n = 0;
      // Without ceilings (the run set by the reservation's own UPDATE) and with (set before the check).
      for (const ceilings of [undefined, [{ account: "run" as const, maxCostUsd: 100 }]])
        for (const runId of ["r1", "r1", "r2", undefined, "r3"]) {
          const key = `k${n++}`;
          a.ledger.reserve(s, { key, model: "m", estimateUsd: 0.5, estimateTokens: 10, runId, ceilings });
          a.ledger.settle(s, key, { usage, costUsd: 0.25 });
          const settling = a.ledger.totals(s);
          const run = a.ledger.usageOf(s, "run");
          await a.eventLog.sync?.();
          expect(reader.ledger.totals(s)).toEqual(settling);
          expect(reader.ledger.usageOf(s, "run")).toEqual(run);
          expect(settling).toMatchObject({ costUsd: 0.25 * n, reservedUsd: 0, calls: n });
        }
      // A new run's base is the cost before its first call: r3 (its first call the 5th of each pass)
      // has one call of its own, twice (the ceilings pass starts r1 again, then r2, r3 anew).
      expect(a.ledger.usageOf(s, "run").costUsd).toBeCloseTo(0.25, 10);
      // Another process settling the session's open reservation is seen (nothing queued here: a read).
      a.ledger.reserve(s, { key: "open", model: "m", estimateUsd: 0.5, runId: "r4" });
      reader.ledger.settle(s, "open", { usage, costUsd: 1 });
      await reader.eventLog.sync?.();
      expect(a.ledger.totals(s)).toMatchObject({ costUsd: 0.25 * n + 1, reservedUsd: 0, calls: n + 1 });
    } finally {
      await a.close();
      await reader.close();
    }
  });

  it("another connection reads a session record whose lastSeq and updatedAt follow every committed event, newest first", async () => {
    const file = join(dir, "records.db");
    const store = await SqliteStore.open(file);
    const other = await SqliteStore.open(file);
    const at = (sessionId: string, seq: number, ts: number, type: string, data: unknown) =>
      ({ v: EVENT_VERSION, seq, tenantId: "local", sessionId, runId: "r", ts, type, data }) as ReinEvent;
    try {
      store.eventLog.append(
        at("ses_old", 1, 100, "session_started", {
          model: "m",
          tools: [],
          workspace: "/w",
          audit: { kind: "none" },
        }),
      );
      store.eventLog.append(
        at("ses_new", 1, 200, "session_started", {
          model: "m",
          tools: [],
          workspace: null,
          audit: { kind: "none" },
        }),
      );
      store.eventLog.append(at("ses_new", 2, 210, "run_started", { task: "t", limits: {} }));
      await store.eventLog.sync?.();
      // Events that change nothing but the position: the record's row is not rewritten for them.
      for (let seq = 2; seq <= 40; seq++)
        store.eventLog.append(at("ses_old", seq, 300 + seq, "text_delta", { turn: 1, delta: "x" }));
      await store.eventLog.sync?.();
      expect(other.sessions.get({ tenantId: "local", sessionId: "ses_old" })).toMatchObject({
        tenantId: "local",
        sessionId: "ses_old",
        status: "idle",
        createdAt: 100,
        updatedAt: 340,
        lastSeq: 40,
        model: "m",
        workspace: "/w",
      });
      expect(other.sessions.list().map((r) => [r.sessionId, r.lastSeq, r.status])).toEqual([
        ["ses_old", 40, "idle"],
        ["ses_new", 2, "running"],
      ]);
      expect(other.sessions.list({ limit: 1 }).map((r) => r.sessionId)).toEqual(["ses_old"]);
    } finally {
      await other.close();
      await store.close();
    }
  });
});
