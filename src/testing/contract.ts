/**
 * The shape every contract suite shares: a list of named checks, each an async function that
 * throws (a vitest `expect` failure) when the implementation breaks the interface's documented
 * behaviour. `<name>Contract(options)` registers the checks as vitest tests; `<name>Checks(options)`
 * returns them, so a test can run them against a deliberately broken implementation and prove
 * that they fail.
 */
import { describe, it } from "vitest";

export interface ContractCheck {
  readonly name: string;
  run(): Promise<void>;
}

export interface ContractCheckResult {
  readonly name: string;
  readonly ok: boolean;
  /** The failure, when `ok` is false. */
  readonly error?: unknown;
}

/**
 * Registers each check as a vitest test inside `describe(title)`. `testTimeoutMs` overrides vitest's
 * test timeout for these checks (a backend whose instances take seconds to start, such as Pyodide).
 */
export function registerContract(
  title: string,
  checks: readonly ContractCheck[],
  options: { readonly testTimeoutMs?: number } = {},
): void {
  describe(title, () => {
    for (const check of checks) it(check.name, () => check.run(), options.testTimeoutMs);
  });
}

/**
 * Runs the checks one after another, outside vitest's registration, and reports each. A check that
 * has not settled after `timeoutMs` fails (an implementation that ignores an abort hangs the check
 * rather than throwing); registered checks get vitest's test timeout instead.
 */
export async function runContractChecks(
  checks: readonly ContractCheck[],
  options: { readonly timeoutMs?: number } = {},
): Promise<ContractCheckResult[]> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const results: ContractCheckResult[] = [];
  for (const check of checks) {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`did not finish within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([check.run(), deadline]);
      results.push({ name: check.name, ok: true });
    } catch (error) {
      results.push({ name: check.name, ok: false, error });
    } finally {
      clearTimeout(timer);
    }
  }
  return results;
}

/** A factory an implementation passes to a contract: called once per check, for a fresh instance. */
export type Factory<T, A extends unknown[] = []> = (...args: A) => T | Promise<T>;
