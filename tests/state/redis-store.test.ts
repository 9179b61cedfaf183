import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { durableGate } from "../../src/approvals/durable-gate.js";
import { createHarness } from "../../src/harness.js";
import type { Model, ModelRequest } from "../../src/models/model.js";
import { EVENT_VERSION, type ReinEvent } from "../../src/protocol/events.js";
import { RedisStore } from "../../src/state/redis-store.js";
import { defineTool } from "../../src/tools/define-tool.js";
import {
  disposeTestStore,
  dropPrefix,
  openTestStore,
  openTestStoreAt,
  REDIS_URL,
  rawClient,
} from "./redis-test-store.js";

const dir = mkdtempSync(join(tmpdir(), "rein-redis-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ev = (tenantId: string, sessionId: string, seq: number, type: string, data: unknown): ReinEvent =>
  ({
    v: EVENT_VERSION,
    seq,
    tenantId,
    sessionId,
    runId: "run_1",
    ts: 1_700_000_000_000 + seq,
    type,
    data,
  }) as ReinEvent;

/** A second store on the same Redis and prefix: another process's view. */
const twin = (store: RedisStore) => RedisStore.open(REDIS_URL, { prefix: store.prefix });

describe("RedisStore", () => {
  it("keys are tenant-scoped: every key of a tenant is under <prefix>:{tenant}:, and tenants never see each other", async () => {
    const store = await openTestStore();
    const client = rawClient();
    try {
      for (const t of ["acme", "glob{ex}:x"]) {
        store.eventLog.append(
          ev(t, "ses_1", 1, "session_started", { model: `m-${t}`, tools: [], workspace: null }),
        );
        store.ledger.reserve({ tenantId: t, sessionId: "ses_1" }, { key: "k", model: "m", estimateUsd: 0.5 });
        store.ledger.settle({ tenantId: t, sessionId: "ses_1" }, "k", {
          usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 },
          costUsd: t === "acme" ? 0.25 : 0.125,
        });
      }
      await store.eventLog.sync?.();
      const keys = (await client.keys(`${store.prefix}:*`)).sort();
      const global = new Set(
        ["schema", "tenants", "approvals", "approval-order"].map((k) => `${store.prefix}:${k}`),
      );
      const scoped = keys.filter((k) => !global.has(k));
      expect(scoped.length).toBeGreaterThan(0);
      for (const k of scoped)
        expect(
          k.startsWith(`${store.prefix}:{acme}:`) || k.startsWith(`${store.prefix}:{glob%7Bex%7D%3Ax}:`),
        ).toBe(true);
      // The braces of a tenant id cannot open or close the hash tag: they are encoded.
      expect(scoped.some((k) => k.includes("{glob{"))).toBe(false);
      expect(store.sessions.get({ tenantId: "acme", sessionId: "ses_1" })?.model).toBe("m-acme");
      expect(store.eventLog.read({ tenantId: "acme", sessionId: "ses_1" }, 0).map((e) => e.tenantId)).toEqual(
        ["acme"],
      );
      expect(store.ledger.totals({ tenantId: "acme" }).costUsd).toBe(0.25);
      expect(store.ledger.totals({ tenantId: "glob{ex}:x" }).costUsd).toBe(0.125);
      expect(store.sessions.list({ tenantId: "acme" }).map((r) => r.tenantId)).toEqual(["acme"]);
      expect(
        store.sessions
          .list()
          .map((r) => r.tenantId)
          .sort(),
      ).toEqual(["acme", "glob{ex}:x"]);
    } finally {
      client.disconnect();
      await disposeTestStore(store);
    }
  });

  it("a finished session gets the TTL on its keys; a new run keeps it again; TTL 0 keeps finished sessions forever", async () => {
    const store = await openTestStore({ finishedSessionTtlSeconds: 3600 });
    const forever = await RedisStore.open(REDIS_URL, { prefix: store.prefix, finishedSessionTtlSeconds: 0 });
    const client = rawClient();
    const base = `${store.prefix}:{local}:s:ses_ttl`;
    const ttls = () => Promise.all([`${base}:log`, `${base}:rec`].map((k) => client.ttl(k)));
    try {
      const s = (seq: number, type: string, data: unknown) => ev("local", "ses_ttl", seq, type, data);
      store.eventLog.append(s(1, "session_started", { model: "m", tools: [], workspace: null }));
      store.eventLog.append(s(2, "run_started", { task: "t", limits: {} }));
      await store.eventLog.sync?.();
      expect(await ttls()).toEqual([-1, -1]); // running: kept
      store.eventLog.append(s(3, "run_ended", { status: "completed" }));
      await store.eventLog.sync?.();
      for (const ttl of await ttls()) expect(ttl).toBeGreaterThan(3500);
      store.eventLog.append(s(4, "run_started", { task: "again", limits: {} }));
      await store.eventLog.sync?.();
      expect(await ttls()).toEqual([-1, -1]);
      store.eventLog.append(s(5, "run_ended", { status: "requires_action" }));
      await store.eventLog.sync?.();
      expect(await ttls()).toEqual([-1, -1]); // waiting for a person: kept
      await store.close();
      // Another writer with TTL 0 finishes it: no expiry.
      forever.eventLog.append(s(6, "run_ended", { status: "failed" }));
      await forever.eventLog.sync?.();
      expect(await ttls()).toEqual([-1, -1]);
    } finally {
      await forever.close();
      await dropPrefix(client, store.prefix);
      client.disconnect();
    }
  });

  it("by default a finished session is kept 7 days", async () => {
    const store = await openTestStore();
    const client = rawClient();
    try {
      const s = (seq: number, type: string, data: unknown) => ev("local", "ses_default", seq, type, data);
      store.eventLog.append(s(1, "session_started", { model: "m", tools: [], workspace: null }));
      store.eventLog.append(s(2, "run_started", { task: "t", limits: {} }));
      store.eventLog.append(s(3, "run_ended", { status: "completed" }));
      await store.eventLog.sync?.();
      const ttl = await client.ttl(`${store.prefix}:{local}:s:ses_default:log`);
      expect(ttl).toBeGreaterThan(7 * 24 * 3600 - 600);
      expect(ttl).toBeLessThanOrEqual(7 * 24 * 3600);
    } finally {
      client.disconnect();
      await disposeTestStore(store);
    }
  });

  it("two writers cannot interleave a session: the one whose view is stale is refused and nothing of it is stored", async () => {
    const a = await openTestStore();
    const b = await twin(a);
    const s = (seq: number) => ev("local", "ses_w", seq, "text_delta", { turn: 1, delta: `${seq}` });
    try {
      a.eventLog.append(s(1));
      a.eventLog.append(s(2));
      await a.eventLog.sync?.();
      b.eventLog.append(s(3)); // b reads last seq 2 from Redis
      await b.eventLog.sync?.();
      a.eventLog.append(s(3)); // a still believes the last seq is 2
      await expect(a.eventLog.sync?.()).rejects.toMatchObject({
        code: "REIN_STORE_FAILED",
        message: expect.stringContaining("appended to by another writer"),
      });
      expect(() => a.eventLog.append(s(4))).toThrow(expect.objectContaining({ code: "REIN_STORE_FAILED" }));
      const read = b.eventLog.read({ tenantId: "local", sessionId: "ses_w" }, 0);
      expect(read.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(read.every((e, i) => i < 2 || (e.data as { delta: string }).delta === "3")).toBe(true);
    } finally {
      await a.close().catch(() => {});
      await disposeTestStore(b);
    }
  });

  it("an unreachable Redis fails at once with REIN_STORE_UNREACHABLE naming the URL and the fix; the test helper says to run setup-redis.sh", async () => {
    const started = Date.now();
    const err = await RedisStore.open("redis://127.0.0.1:1/0").catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: "REIN_STORE_UNREACHABLE",
      message: expect.stringMatching(
        /Cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/0: .*ECONNREFUSED.*setup-redis\.sh/,
      ),
    });
    expect(Date.now() - started).toBeLessThan(20_000); // the connect timeout bounds it, whatever the load
    await expect(openTestStoreAt("redis://127.0.0.1:1/0")).rejects.toThrow(
      /run `bash scripts\/setup-redis\.sh`/,
    );
  });

  it("a password in the URL never appears in errors", async () => {
    const err = await RedisStore.open("redis://:hunter2@127.0.0.1:1/0").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "REIN_STORE_UNREACHABLE" });
    expect(JSON.stringify(err)).not.toContain("hunter2");
  });

  it("records its layout version, and refuses one written by a newer Rein", async () => {
    const store = await openTestStore();
    const client = rawClient();
    try {
      expect(await client.get(`${store.prefix}:schema`)).toBe("1");
      await client.set(`${store.prefix}:schema`, "2");
      await expect(RedisStore.open(REDIS_URL, { prefix: store.prefix })).rejects.toMatchObject({
        code: "REIN_STORE_SCHEMA_UNSUPPORTED",
        message: expect.stringContaining("layout version 2; this Rein knows up to 1"),
      });
    } finally {
      client.disconnect();
      await disposeTestStore(store);
    }
  });
});

function oneCallModel(): Model {
  return {
    id: "test:model",
    async generate(req: ModelRequest) {
      const turns = req.messages.filter((m) => m.role === "assistant").length;
      const usage = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 };
      if (turns === 0)
        return {
          content: [{ type: "tool_use", id: "call_1", name: "append_line", input: { line: "hello" } }],
          stopReason: "tool_use",
          usage,
          model: "test:model",
        };
      return {
        content: [{ type: "text", text: "done" }],
        stopReason: "end_turn",
        usage,
        model: "test:model",
      };
    },
  };
}

describe("RedisStore durable approvals", () => {
  it("a pending approval is decided from a second connection (a conflicting decision from a third is refused); resume runs the call exactly once", async () => {
    const out = join(dir, "approved.txt");
    writeFileSync(out, "");
    const store = await openTestStore();
    const harness = createHarness({
      model: oneCallModel(),
      tools: [
        defineTool({
          name: "append_line",
          description: "appends a line",
          input: z.object({ line: z.string() }),
          risk: { level: "HIGH", reason: "writes a file" },
          idempotent: false,
          async execute({ line }) {
            appendFileSync(out, `${line}\n`);
            return "appended";
          },
        }),
      ],
      builtinTools: false,
      audit: false,
      pricing: { overrides: { "test:model": { input: 1, output: 2, cacheRead: 0, cacheWrite: 0 } } },
      store,
      approvals: { gate: durableGate(store) },
    });
    const second = await twin(store);
    const third = await twin(store);
    try {
      const session = harness.session({ id: "ses_apr" });
      const first = await session.run("append hello");
      expect(first.status).toBe("requires_action");
      await session.close();
      const id = (first.stopReason as { approvals: readonly string[] }).approvals[0]!;
      const pending = second.approvals.list({ status: "pending" });
      expect(pending.map((p) => [p.id, p.tool, p.input])).toEqual([[id, "append_line", { line: "hello" }]]);
      second.approvals.decide(
        id,
        { outcome: "approved", scope: "once" },
        { by: "ann", argsHash: pending[0]!.argsHash },
      );
      expect(() => third.approvals.decide(id, { outcome: "denied", reason: "no" }, { by: "eve" })).toThrow(
        expect.objectContaining({ code: "REIN_APPROVAL_CONFLICT" }),
      );
      third.approvals.decide(id, { outcome: "approved", scope: "once" }, { by: "bob" }); // the same: one decision
      expect(readFileSync(out, "utf8")).toBe("");
      const { session: resumed, result } = await harness.resume("ses_apr");
      expect(result.status).toBe("completed");
      await resumed.close();
      await expect(harness.resume("ses_apr")).rejects.toMatchObject({ code: "REIN_SESSION_NOT_RESUMABLE" });
      expect(readFileSync(out, "utf8")).toBe("hello\n");
      const events = third.eventLog.read({ tenantId: "local", sessionId: "ses_apr" }, 0);
      expect(events.filter((e) => e.type === "tool_call_started")).toHaveLength(1);
      expect(events.find((e) => e.type === "tool_call_decided" && e.data.verdict === "allow")).toMatchObject({
        data: { approval: { outcome: "approved", by: "ann", scope: "once" } },
      });
      // The ledger the second connection reads is the one the run wrote.
      expect(second.ledger.totals({ tenantId: "local", sessionId: "ses_apr" })).toMatchObject({
        calls: 2,
        reservedUsd: 0,
      });
    } finally {
      await second.close();
      await third.close();
      await disposeTestStore(store);
    }
  });

  it("an approval whose record expired (with its finished session) leaves the global index at the next lookup or listing", async () => {
    const store = await openTestStore();
    const client = rawClient();
    const approval = (id: string, tenantId: string) =>
      store.approvals.create({
        id,
        tenantId,
        sessionId: "ses_x",
        runId: "run_x",
        callId: "call_1",
        turn: 1,
        tool: "append_line",
        input: { line: id },
        argsHash: `hash-${id}`,
        risk: { level: "HIGH", reason: "writes", rule: "test" },
        requestedAt: 1_700_000_000_000,
        expiresAt: 4_000_000_000_000,
        onTimeout: "deny",
      });
    try {
      for (const [id, t] of [
        ["apr_a", "acme"],
        ["apr_b", "beta"],
        ["apr_c", "acme"],
        ["apr_d", "beta"],
      ] as const)
        approval(id, t);
      const index = async () => ({
        tenants: Object.keys(await client.hgetall(`${store.prefix}:approvals`)).sort(),
        order: await client.lrange(`${store.prefix}:approval-order`, 0, -1),
      });
      expect(await index()).toEqual({
        tenants: ["apr_a", "apr_b", "apr_c", "apr_d"],
        order: ["apr_a", "apr_b", "apr_c", "apr_d"],
      });
      // Their sessions' TTL ran out: the records are gone, the global index still names them.
      await client.del(`${store.prefix}:{acme}:apr:apr_a`, `${store.prefix}:{beta}:apr:apr_b`);
      await client.del(`${store.prefix}:{acme}:apr:apr_c`);
      // A listing of one tenant drops that tenant's gone ids only (the other's are not read).
      expect(store.approvals.list({ tenantId: "acme" }).map((r) => r.id)).toEqual([]);
      expect(await index()).toEqual({ tenants: ["apr_b", "apr_d"], order: ["apr_b", "apr_d"] });
      // A lookup drops the one it finds gone.
      expect(store.approvals.get("apr_b")).toBeUndefined();
      expect(await index()).toEqual({ tenants: ["apr_d"], order: ["apr_d"] });
      expect(store.approvals.list({ status: "pending" }).map((r) => r.id)).toEqual(["apr_d"]);
    } finally {
      client.disconnect();
      await disposeTestStore(store);
    }
  });
});
