import { dirname, join, resolve } from "node:path";
import { ConfigError } from "../protocol/errors.js";
import type { Store } from "../state/store.js";

/** `--store` and the config file's `store:`: a SQLite file, or a Redis URL (`redis://`, `rediss://`). */
export function isRedisUrl(spec: string): boolean {
  return /^rediss?:\/\//i.test(spec);
}

/**
 * The store a flag or config value names: a Redis URL as it is (checked that it parses), a file
 * resolved against `base` (the working directory for flags, the config file's folder for the file).
 */
export function storeSpec(value: string, base: string, source = "--store"): string {
  if (!isRedisUrl(value)) return resolve(base, value);
  try {
    new URL(value);
  } catch {
    throw new ConfigError(
      `${source}: ${JSON.stringify(value)} is not a valid Redis URL (redis://host:port/db).`,
      {
        field: "store",
      },
    );
  }
  return value;
}

/** Opens the store `spec` names (loads only that store's module). */
export async function openStore(spec: string): Promise<Store> {
  if (isRedisUrl(spec)) {
    const { RedisStore } = await import("../state/redis-store.js");
    return RedisStore.open(spec);
  }
  const { SqliteStore } = await import("../state/sqlite-store.js");
  return SqliteStore.open(spec);
}

/** How messages name the store: the file, or the URL without its password. */
export function storeLabel(store: Store): string {
  const s = store as { file?: string; url?: string };
  return s.file ?? s.url ?? store.name;
}

/**
 * Where `rein run` keeps a session's run spec (for `rein sessions resume`): beside a SQLite file, or
 * in `.rein/` of the working directory for a Redis store.
 */
export function specDir(spec: string): string {
  return isRedisUrl(spec) ? resolve(".rein", "sessions") : join(dirname(spec), "sessions");
}
