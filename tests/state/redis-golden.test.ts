import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EVENT_VERSION, type ReinEvent } from "../../src/protocol/events.js";
import { RedisStore } from "../../src/state/redis-store.js";
import { type DumpedKey, dumpPrefix, restorePrefix } from "./redis-fixture.js";
import {
  disposeTestStore,
  dropPrefix,
  openTestStore,
  REDIS_URL,
  rawClient,
  testPrefix,
} from "./redis-test-store.js";

const FIXTURES = join(import.meta.dirname, "../fixtures");
const scope = { tenantId: "local", sessionId: "ses_fixture" };

/**
 * Writes tests/fixtures/redis-v1.json from a store of the current layout: done once, when a layout
 * version is released (REIN_WRITE_REDIS_FIXTURE=1); never rewritten afterwards.
 */
async function writeFixture(file: string): Promise<void> {
  const store = await openTestStore();
  const ev = (seq: number, type: string, data: unknown) =>
    ({
      v: EVENT_VERSION,
      seq,
      ...scope,
      runId: "run_fixture",
      ts: 1_700_000_000_000 + seq,
      type,
      data,
    }) as ReinEvent;
  store.eventLog.append(ev(1, "session_started", { model: "scripted:fixture", tools: [], workspace: "/w" }));
  store.eventLog.append(ev(2, "run_started", { task: "fixture", limits: {} }));
  store.ledger.reserve(scope, {
    key: "run_fixture:1",
    model: "scripted:fixture",
    estimateUsd: 0.02,
    estimateTokens: 100,
    ceilings: [{ account: "budget:team", maxCostUsd: 5 }],
  });
  store.approvals.create({
    id: "apr_fixture",
    ...scope,
    runId: "run_fixture",
    callId: "call_1",
    turn: 1,
    tool: "append_line",
    input: { line: "x" },
    argsHash: "hash-fixture",
    risk: { level: "HIGH", reason: "writes", rule: "test" },
    requestedAt: 1_700_000_000_000,
    expiresAt: 4_000_000_000_000,
    onTimeout: "deny",
  });
  await store.eventLog.sync?.();
  const client = rawClient();
  const dump = await dumpPrefix(client, store.prefix);
  client.disconnect();
  await disposeTestStore(store);
  writeFileSync(file, `${JSON.stringify(dump, null, 1)}\n`);
}

describe("RedisStore golden fixtures", () => {
  it("opens keys written by layout v1 (tests/fixtures/redis-v1.json) and reads its session, ledger and approval", async () => {
    const file = join(FIXTURES, "redis-v1.json");
    if (process.env.REIN_WRITE_REDIS_FIXTURE === "1" && !existsSync(file)) await writeFixture(file);
    const dump = JSON.parse(readFileSync(file, "utf8")) as DumpedKey[];
    const prefix = testPrefix();
    const client = rawClient();
    await restorePrefix(client, prefix, dump);
    const store = await RedisStore.open(REDIS_URL, { prefix });
    try {
      expect(store.eventLog.read(scope, 0).map((e) => e.type)).toEqual(["session_started", "run_started"]);
      expect(store.eventLog.lastSeq(scope)).toBe(2);
      expect(store.sessions.get(scope)).toMatchObject({
        status: "running",
        model: "scripted:fixture",
        lastSeq: 2,
      });
      expect(store.sessions.list().map((r) => r.sessionId)).toEqual(["ses_fixture"]);
      expect(store.ledger.openReservations(scope)).toEqual([
        { key: "run_fixture:1", model: "scripted:fixture", estimateUsd: 0.02, estimateTokens: 100 },
      ]);
      expect(store.ledger.usageOf(scope, "budget:team")).toMatchObject({
        reservedUsd: 0.02,
        reservedTokens: 100,
      });
      expect(store.approvals.get("apr_fixture")).toMatchObject({ status: "pending", tool: "append_line" });
      // And it goes on: the next append and the settlement work on the old keys.
      store.eventLog.append({
        v: EVENT_VERSION,
        seq: 3,
        ...scope,
        runId: "run_fixture",
        ts: 1_700_000_000_003,
        type: "run_ended",
        data: { status: "completed" },
      } as ReinEvent);
      store.ledger.settle(scope, "run_fixture:1", {
        usage: { inputTokens: 50, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 },
        costUsd: 0.01,
      });
      await store.eventLog.sync?.();
      expect(store.ledger.totals(scope)).toMatchObject({ costUsd: 0.01, reservedUsd: 0, calls: 1 });
      expect(store.sessions.get(scope)?.status).toBe("completed");
    } finally {
      await store.close();
      await dropPrefix(client, prefix);
      client.disconnect();
    }
  });
});
