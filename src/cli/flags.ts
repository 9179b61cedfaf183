/**
 * Parsers of flag values, shared by the commands. Light on purpose: `rein --help` and `rein
 * --version` load this file, so it imports nothing but commander and cli/ helpers. Values whose list
 * lives in a subsystem (sandbox backends, trust modes) are checked in the command's action, which
 * throws a `UsageError` (exit 2, one line) just as a parser here would.
 */
import { InvalidArgumentError } from "commander";
import { UsageError } from "../protocol/errors.js";
import { parseDuration } from "./duration.js";

export function positiveInt(flag: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new InvalidArgumentError(`${flag} must be a positive integer, got "${value}".`);
    return n;
  };
}

export function positiveNumber(flag: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${flag} must be a positive number, got "${value}".`);
    return n;
  };
}

export function usd(value: string): number {
  const n = Number(value.replace(/^\$/, ""));
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(
      `--max-cost must be a positive amount of USD (e.g. 0.50), got "${value}".`,
    );
  return n;
}

export function tokenCount(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(value.trim());
  const n = m ? Number(m[1]) * (m[2] === "" ? 1 : /k/i.test(m[2]!) ? 1_000 : 1_000_000) : Number.NaN;
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(
      `--max-tokens must be a positive whole number of tokens (e.g. 200000, 200k or 1.5m), got "${value}".`,
    );
  return n;
}

export function stallWindow(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 2 || n > 64)
    throw new InvalidArgumentError(`--stall-window must be an integer from 2 to 64, got "${value}".`);
  return n;
}

export function threshold(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1))
    throw new InvalidArgumentError(`--threshold must be a number in (0, 1], got "${value}".`);
  return n;
}

export function duration(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new InvalidArgumentError(
      `"${value}" is not a duration (examples: 90s, 5m, 1h, 500ms; a bare number is seconds).`,
    );
  return ms;
}

export function headHash(value: string): string {
  if (!/^[0-9a-f]{64}$/.test(value))
    throw new InvalidArgumentError(`--head must be a 64-digit lowercase hex hash, got "${value}".`);
  return value;
}

/** A sandbox backend named by a flag, checked against the sandbox room's list (loaded by the action). */
export async function sandboxBackend<T extends string>(value: string, flag = "--sandbox"): Promise<T> {
  const { SANDBOX_BACKENDS } = await import("../sandbox/create-sandbox.js");
  if (!(SANDBOX_BACKENDS as readonly string[]).includes(value))
    throw new UsageError(`"${value}" is not a sandbox; use one of: ${SANDBOX_BACKENDS.join(", ")}.`, {
      flag,
    });
  return value as T;
}

/** A trust mode named by `--trust` (aliases as parseTrustMode reads them). */
export async function trustMode(value: string) {
  const { parseTrustMode } = await import("../policy/trust-mode.js");
  const mode = parseTrustMode(value);
  if (!mode)
    throw new UsageError(`--trust must be supervised, semi, autonomous or read-only, got "${value}".`, {
      flag: "--trust",
    });
  return mode;
}
