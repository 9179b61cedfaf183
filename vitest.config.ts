import { defineConfig } from "vitest/config";
import SummaryReporter from "./tests/summary-reporter.js";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 30_000,
    // Hooks start and dispose real sandboxes (containers, gVisor, Pyodide): seconds each on a loaded box.
    hookTimeout: 120_000,
    pool: "forks",
    reporters: ["default", new SummaryReporter()],
  },
});
