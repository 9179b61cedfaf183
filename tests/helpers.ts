import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { createHarness, defineTool, type HarnessConfig, type ReinEvent, type Tool } from "../src/index.js";
import { scriptedModel } from "../src/testing.js";

/** A fresh folder, inside the test run's own temp folder (removed when the run ends: tests/temp-root.ts). */
export function tempDir(prefix = "rein-test-"): string {
  return mkdtempSync(join(process.env.REIN_TEST_TEMP_ROOT ?? tmpdir(), prefix));
}

/**
 * A harness on an inline script, auditing into a temp dir unless told otherwise. Spotlighting is off
 * here so pipeline tests can compare results with what the tool returned; tests/security covers it.
 */
export function scriptHarness(turns: unknown[], config: Partial<HarnessConfig> = {}) {
  return createHarness({
    model: scriptedModel({ name: "test", turns: turns.length ? turns : [{ say: "unused" }] }),
    audit: { dir: join(tempDir("rein-audit-"), "audit") },
    security: { spotlight: false },
    ...config,
  });
}

export const echoTool: Tool = defineTool({
  name: "echo",
  description: "Returns its text",
  input: z.object({ text: z.string() }),
  risk: { level: "LOW", reason: "pure" },
  readOnly: true,
  execute: ({ text }) => text,
});

export function callTurn(
  tool: string,
  input: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  return { tool_calls: [{ tool, input }], ...extra };
}

export async function collect(stream: AsyncIterable<ReinEvent>): Promise<ReinEvent[]> {
  const out: ReinEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

/** A promise and its resolver, for synchronising on events instead of sleeping. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** The text of a tool_result block. */
export function contentOf(block: unknown): string {
  return (block as { content: string }).content;
}

/** Counts turns of the event loop (an immediate that renews itself runs once per turn) until stopped. */
export function loopTurns() {
  let turns = 0;
  let on = true;
  const tick = () => {
    turns++;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get now() {
      return turns;
    },
    stop() {
      on = false;
    },
  };
}
