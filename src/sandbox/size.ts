import { SandboxError } from "../protocol/errors.js";

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Parses a byte size: a number, or "256m", "64k", "1g", "512MiB", "100mb" (binary units). */
export function parseSize(value: number | string, what: string): number {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value > 0) return value;
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(value);
    if (m) {
      const n = Math.round(Number(m[1]) * (UNITS[(m[2] ?? "").toLowerCase()] ?? 1));
      if (Number.isSafeInteger(n) && n > 0) return n;
    }
  }
  throw new SandboxError(
    `${what} must be a positive size such as 256m, 64k or 1g (or a number of bytes), got ${JSON.stringify(value)}.`,
    { [what]: value },
  );
}
