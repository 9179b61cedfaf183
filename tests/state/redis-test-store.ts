// Test helpers for the Redis store: a real redis-server (scripts/setup-redis.sh starts one on
// 127.0.0.1:6379), a fresh key prefix per store so test files never see each other's keys, and
// removal of those keys afterwards. When Redis does not answer, the tests FAIL and say what to run.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { RedisStore, type RedisStoreOptions } from "../../src/state/redis-store.js";

export const REDIS_URL = process.env.REIN_TEST_REDIS_URL ?? "redis://127.0.0.1:6379/0";

/** A key prefix no other test uses. */
export function testPrefix(): string {
  return `rein-test-${process.pid}-${randomBytes(6).toString("hex")}`;
}

/** Opens a store on the test Redis; an unreachable Redis is a failure that names the fix. */
export function openTestStore(options: RedisStoreOptions = {}): Promise<RedisStore> {
  return openTestStoreAt(REDIS_URL, options);
}

/** `openTestStore` on another URL (the error path's test). */
export async function openTestStoreAt(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
  try {
    return await RedisStore.open(url, { prefix: testPrefix(), ...options });
  } catch (err) {
    if ((err as { code?: string }).code === "REIN_STORE_UNREACHABLE")
      throw new Error(
        `The Redis store tests need a Redis at ${url} and none answers: run \`bash scripts/setup-redis.sh\` (or set REIN_TEST_REDIS_URL). ${(err as Error).message}`,
      );
    throw err;
  }
}

/** A plain client on the test Redis, for looking at keys the store wrote. */
export function rawClient(): Redis {
  return new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** Deletes every key under `prefix`. */
export async function dropPrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== "0");
}

/** Closes the store and deletes its keys. */
export async function disposeTestStore(store: RedisStore): Promise<void> {
  await store.close().catch(() => {});
  const client = rawClient();
  try {
    await dropPrefix(client, store.prefix);
  } finally {
    client.disconnect();
  }
}
