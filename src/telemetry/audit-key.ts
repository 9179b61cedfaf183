import { createSecretKey, type KeyObject } from "node:crypto";
import { ConfigError } from "../protocol/errors.js";

/** The environment variable that keys audit trails (HMAC-SHA256) when no key is given in code. */
export const AUDIT_KEY_ENV = "REIN_AUDIT_KEY";

/** Shorter keys are refused: an HMAC chain is only as strong as its key is hard to guess. */
export const AUDIT_KEY_MIN_BYTES = 16;

/** An audit key: a string (its UTF-8 bytes) or bytes. */
export type AuditKey = string | Uint8Array;

/**
 * A key already wrapped by `node:crypto`'s `createSecretKey` (a `KeyObject`), described without
 * Node's types so that apps compile without `@types/node`.
 */
export interface AuditKeyHandle {
  readonly type: "secret" | "public" | "private";
  readonly symmetricKeySize?: number | undefined;
}

/**
 * @internal
 * Validates a key and wraps it as a `KeyObject`, so the bytes are not kept in a plain field that a
 * log or `JSON.stringify` could print. `source` names where the key came from, for the error.
 */
export function auditKeyObject(key: AuditKey, source: string): KeyObject {
  const bytes = typeof key === "string" ? Buffer.from(key, "utf8") : Buffer.from(key);
  if (bytes.length < AUDIT_KEY_MIN_BYTES) {
    throw new ConfigError(
      `${source}: the audit key has ${bytes.length} bytes; use at least ${AUDIT_KEY_MIN_BYTES} (32 random bytes recommended, e.g. \`openssl rand -hex 32\`).`,
      { field: source },
    );
  }
  return createSecretKey(bytes);
}

/** @internal The key in environment variable `name`, or undefined when it is unset or empty. */
export function auditKeyFromEnv(
  name: string = AUDIT_KEY_ENV,
  env: NodeJS.ProcessEnv = process.env,
): KeyObject | undefined {
  const value = env[name];
  return value === undefined || value === ""
    ? undefined
    : auditKeyObject(value, `environment variable ${name}`);
}
