import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineTool, historyFromEvents, MemoryEventLog } from "../../src/index.js";
import { echoTool, scriptHarness } from "../helpers.js";

describe("historyFromEvents: the event log is the history", () => {
  it("rebuilds exactly the session's history across runs, errors and a cancelled turn", async () => {
    const log = new MemoryEventLog();
    let release: (() => void) | undefined;
    const slow = defineTool({
      name: "slow",
      description: "waits for abort",
      input: z.object({}),
      risk: { level: "LOW", reason: "t" },
      execute: (_i, ctx) =>
        new Promise((_, reject) => {
          release?.();
          ctx.signal.addEventListener("abort", () => reject(new Error("stopped")));
        }),
    });
    const h = scriptHarness(
      [
        {
          say: "two at once",
          tool_calls: [
            { tool: "echo", input: { text: "a" } },
            { tool: "nope" },
            { tool: "echo", input: { text: 5 } },
          ],
        },
        { say: "first done" },
        { tool_calls: [{ tool: "echo", input: { text: "b" } }, { tool: "slow" }] },
        { say: "never reached" },
      ],
      { tools: [echoTool, slow], eventLog: log },
    );
    const session = h.session({ id: "ses-replay" });
    await session.run("first task");
    const started = new Promise<void>((r) => {
      release = r;
    });
    const second = session.run("second task");
    await started;
    session.cancel("stop");
    expect((await second).stopReason.type).toBe("cancelled");

    const rebuilt = historyFromEvents(log.read({ tenantId: "local", sessionId: "ses-replay" }, 0));
    expect(rebuilt).toEqual(session.messages);
    expect(rebuilt).toHaveLength(7);
  });

  it("a session resumed from the rebuilt history continues the log and the conversation", async () => {
    const log = new MemoryEventLog();
    const turns = [{ tool_calls: [{ tool: "echo", input: { text: "x" } }] }, { say: "one" }, { say: "two" }];
    const first = scriptHarness(turns, { tools: [echoTool], eventLog: log });
    const s1 = first.session({ id: "ses-resume" });
    await s1.run("go");
    const scope = { tenantId: "local", sessionId: "ses-resume" };
    const lastSeq = log.lastSeq(scope);

    // "Another process": a new harness on the same log, a session rebuilt from events.
    const second = scriptHarness(turns, { tools: [echoTool], eventLog: log });
    const s2 = second.session({ id: "ses-resume", history: historyFromEvents(log.read(scope, 0)) });
    const r = await s2.run("again");
    expect(r.finalText).toBe("two");
    const after = log.read(scope, lastSeq);
    expect(after[0]?.seq).toBe(lastSeq + 1);
    expect(after.map((e) => e.type)).not.toContain("session_started");
  });
});
