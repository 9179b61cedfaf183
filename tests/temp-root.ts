/**
 * Vitest's global setup: one folder per test run under the system's temp folder, which `tempDir()`
 * (tests/helpers.ts) makes its folders in, removed when the run ends. The tests' temp folders used to
 * stay behind after every run (tens of thousands of them over a day's runs filled a disk).
 * The folder reaches the test workers through the environment (they are forked after this runs), and
 * it is their `TMPDIR` too: whatever a test or the code under test makes with `os.tmpdir()` (a test's
 * own `mkdtemp`, a sandbox's staging folder, a CLI child's workspace) goes in it and goes with it.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const TEMP_ROOT_ENV = "REIN_TEST_TEMP_ROOT";

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "rein-run-"));
  // Traversable, as the temp folder itself is: a sandbox that drops root's privileges reaches a
  // socket or file in a test's folder (which sets its own mode) through this one.
  chmodSync(root, 0o711);
  process.env[TEMP_ROOT_ENV] = root;
  process.env.TMPDIR = root;
  return () => {
    try {
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      // What could not be removed (a folder still mounted somewhere) stays; the run's result stands.
      console.warn(`could not remove the test run's temp folder ${root}: ${(err as Error).message}`);
    }
  };
}
