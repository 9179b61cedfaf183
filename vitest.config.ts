import { defineConfig } from "vitest/config";
import SummaryReporter from "./tests/summary-reporter.js";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 30_000,
    // Hooks start and dispose real sandboxes (containers, gVisor, Pyodide): seconds each on a loaded box.
    hookTimeout: 120_000,
    pool: "forks",
    // One temp folder per run for tests/helpers.ts tempDir(), removed at the end (tests/temp-root.ts).
    globalSetup: ["./tests/temp-root.ts"],
    reporters: ["default", new SummaryReporter()],
  },
});
