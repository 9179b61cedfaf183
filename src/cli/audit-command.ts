import { ConfigError } from "../protocol/errors.js";
import { AUDIT_KEY_ENV, auditKeyFromEnv } from "../telemetry/audit-key.js";
import { type AuditVerification, verifyAuditFile } from "../telemetry/audit-verify.js";
import { terminalSafe } from "./terminal-text.js";

export interface AuditVerifyOptions {
  readonly json: boolean;
  /** The head hash kept elsewhere; the trail must end there. */
  readonly head?: string;
  /** The environment variable holding the key; default REIN_AUDIT_KEY when it is set. */
  readonly keyEnv?: string;
}

/** `rein audit verify`: prints the verdict; exit 0 only for an intact, sealed (or v1) trail. */
export function auditVerifyCommand(file: string, options: AuditVerifyOptions): number {
  const key = auditKeyFromEnv(options.keyEnv ?? AUDIT_KEY_ENV);
  if (options.keyEnv !== undefined && key === undefined)
    throw new ConfigError(
      `--key-env ${options.keyEnv}: the environment variable ${options.keyEnv} is not set.`,
      {
        field: "--key-env",
      },
    );
  const verdict = verifyAuditFile(file, { key, head: options.head });
  // The reason can quote bytes from the file: printed inert, as everything else from outside is.
  process.stdout.write(`${options.json ? JSON.stringify(verdict) : terminalSafe(describe(verdict))}\n`);
  return verdict.ok ? 0 : 1;
}

function describe(v: AuditVerification): string {
  switch (v.status) {
    case "sealed":
      return `ok: ${v.records} records, chain intact, sealed (${v.seals} seal${v.seals === 1 ? "" : "s"}, ${v.alg}), head ${v.headHash}`;
    case "v1":
      return `ok: ${v.records} records, chain intact, format v1 (no seals: a cut at its end shows only against --head), head ${v.headHash}`;
    case "unsealed":
      return `UNSEALED: ${v.file}: ${v.reason} (${v.records} records verified, head ${v.headHash})`;
    case "head_mismatch":
      return `HEAD MISMATCH: ${v.file}: ${v.reason}`;
    case "empty":
      return `EMPTY: ${v.file}: ${v.reason}`;
    case "key_required":
      return `KEY REQUIRED: ${v.file} line ${v.line}: ${v.reason}`;
    case "unkeyed":
      return `UNKEYED: ${v.file} line ${v.line}: ${v.reason}`;
    case "truncated":
      return `TRUNCATED: ${v.file} line ${v.line}: ${v.reason} (${v.records} records verified before it)`;
    case "tampered":
      return `TAMPERED: ${v.file} line ${v.line}: ${v.reason} (${v.records} records verified before it)`;
  }
}
