import { z } from "zod/v4";

/**
 * The config file's `store:` key: where `rein run` keeps sessions when `--store` is not given. A
 * SQLite file (relative to the config file; default `.rein/rein.db` of the working directory) or a
 * Redis URL (`redis://[:password@]host:port/db`, `rediss://` for TLS).
 */
export const StoreFileSchema = z
  .string()
  .min(1)
  .refine((v) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(v) || /^rediss?:\/\/[^\s]+$/i.test(v), {
    message: "a store is a SQLite file path or a redis:// (rediss://) URL",
  });
