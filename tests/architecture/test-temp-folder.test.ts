import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers.js";

// tests/temp-root.ts: every temp folder of a test run goes in the run's own folder, removed at its end.
describe("the test run's temp folder", () => {
  const root = process.env.REIN_TEST_TEMP_ROOT;

  it("is where tempDir() and os.tmpdir() make folders, in this worker and in its children", () => {
    expect(root, "the global setup sets REIN_TEST_TEMP_ROOT").toMatch(/rein-run-/);
    expect(tmpdir()).toBe(root);
    expect(tempDir().startsWith(`${root}/`)).toBe(true);
    const childTmp = execFileSync(process.execPath, ["-p", "require('node:os').tmpdir()"], {
      encoding: "utf8",
    });
    expect(childTmp.trim()).toBe(root);
  });
});
