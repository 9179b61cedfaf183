// The Redis store's golden fixtures: every key under a prefix, dumped as JSON (with the prefix
// written as PREFIX) and restored under another prefix, so a layout written by a released version
// can be opened by every later one (tests/fixtures/redis-v1.json).
import type { Redis } from "ioredis";

export type DumpedKey =
  | { readonly key: string; readonly type: "string"; readonly value: string }
  | { readonly key: string; readonly type: "hash"; readonly value: Record<string, string> }
  | { readonly key: string; readonly type: "list" | "set"; readonly value: string[] }
  | { readonly key: string; readonly type: "zset"; readonly value: [string, string][] }
  | { readonly key: string; readonly type: "stream"; readonly value: [string, string[]][] };

export async function dumpPrefix(client: Redis, prefix: string): Promise<DumpedKey[]> {
  const keys = (await client.keys(`${prefix}:*`)).sort();
  const out: DumpedKey[] = [];
  for (const full of keys) {
    const key = `PREFIX${full.slice(prefix.length)}`;
    const type = await client.type(full);
    if (type === "string") out.push({ key, type, value: (await client.get(full)) ?? "" });
    else if (type === "hash") out.push({ key, type, value: await client.hgetall(full) });
    else if (type === "list") out.push({ key, type, value: await client.lrange(full, 0, -1) });
    else if (type === "set") out.push({ key, type, value: (await client.smembers(full)).sort() });
    else if (type === "zset") {
      const flat = await client.zrange(full, "0", "-1", "WITHSCORES");
      const pairs: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
      out.push({ key, type, value: pairs });
    } else if (type === "stream")
      out.push({ key, type, value: (await client.xrange(full, "-", "+")) as [string, string[]][] });
  }
  return out;
}

export async function restorePrefix(
  client: Redis,
  prefix: string,
  dump: readonly DumpedKey[],
): Promise<void> {
  for (const d of dump) {
    const key = `${prefix}${d.key.slice("PREFIX".length)}`;
    if (d.type === "string") await client.set(key, d.value);
    else if (d.type === "hash") await client.hset(key, d.value);
    else if (d.type === "list") await client.rpush(key, ...d.value);
    else if (d.type === "set") await client.sadd(key, ...d.value);
    else if (d.type === "zset") for (const [m, s] of d.value) await client.zadd(key, s, m);
    else
      for (const [id, fields] of d.value as [string, string[]][])
        await client.call("XADD", key, id, ...fields);
  }
}
