import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createHarness, defineTool } from "../../src/index.js";
import { recordingSink, scriptedModel } from "../../src/testing.js";

describe("spotlight nonces drawn from a pool of random bytes", () => {
  it("700 sessions of one harness (two refills of the pool) each get their own 24-hex-digit nonce", async () => {
    const sink = recordingSink();
    const harness = createHarness({
      model: scriptedModel({
        name: "n",
        turns: [{ tool_calls: [{ tool: "echo", input: {} }] }, { say: "ok" }],
      }),
      tools: [
        defineTool({
          name: "echo",
          description: "returns text",
          input: z.object({}),
          readOnly: true,
          risk: { level: "LOW", reason: "test" },
          execute: () => "x",
        }),
      ],
      sinks: [sink],
      audit: false,
    });
    for (let i = 0; i < 700; i++) {
      const s = harness.session();
      await s.run("go");
      await s.close();
    }
    const nonces = sink
      .ofType("tool_call_finished")
      .map((e) => /^<tool_result nonce=([0-9a-f]+) tool=echo>/.exec(e.data.content)?.[1]);
    expect(nonces).toHaveLength(700);
    for (const n of nonces) expect(n).toMatch(/^[0-9a-f]{24}$/);
    expect(new Set(nonces).size).toBe(700);
    // Not the zeroes a used slot of the pool is overwritten with.
    expect(nonces).not.toContain("0".repeat(24));
  });
});
