import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ApprovalGate,
  defineTool,
  type Guard,
  type Policy,
  type Tool,
  ToolRegistry,
} from "../../src/index.js";
import { recordingSink } from "../../src/testing.js";
import { callTurn, contentOf, scriptHarness } from "../helpers.js";

function errorOf(block: unknown): { type: string; message: string } {
  return JSON.parse(contentOf(block)).error;
}

/** A tool that records every execution, so a test can prove a denied call never ran. */
function recorder(level: "LOW" | "MEDIUM" | "HIGH" = "LOW") {
  const ran: unknown[] = [];
  const tool = defineTool({
    name: "act",
    description: "records that it ran",
    input: z.object({ n: z.number() }),
    risk: { level, reason: "test" },
    execute: (input) => {
      ran.push(input);
      return "ran";
    },
  });
  return { tool, ran };
}

/** Thenables that are not native Promises: each must be refused, never awaited or treated as a value. */
// biome-ignore lint/suspicious/noThenProperty: a hostile thenable is exactly what these tests feed the pipeline.
const thenableOf = (value: unknown) => ({ then: (resolve: (v: unknown) => void) => resolve(value) });

const MALFORMED: [string, unknown][] = [
  ["undefined", undefined],
  ["null", null],
  ["true", true],
  ['"allow"', "allow"],
  ["a lower-case level", { level: "block", reason: "x", rule: "r" }],
  ["a misspelt level", { level: "HIGHT", reason: "x", rule: "r" }],
  ["an object as level", { level: {}, reason: "x", rule: "r" }],
  ["no rule", { level: "LOW", reason: "x" }],
  ["a thenable resolving to BLOCK", thenableOf({ level: "BLOCK", reason: "x", rule: "r" })],
  ["a thenable resolving to LOW", thenableOf({ level: "LOW", reason: "x", rule: "r" })],
];

describe("fail closed: malformed answers from user code are denials", () => {
  it.each(MALFORMED)(
    "a policy answering %s blocks the call, with what it answered in the reason",
    async (_, answer) => {
      const { tool, ran } = recorder();
      const policy = { name: "odd", classify: () => answer } as unknown as Policy;
      const sink = recordingSink();
      const h = scriptHarness([callTurn("act", { n: 1 }), { say: "ok" }], {
        tools: [tool],
        policy,
        sinks: [sink],
      });
      const r = await h.session().run("go");
      expect(ran).toEqual([]);
      const err = errorOf(r.messages[2]?.content[0]);
      expect(err.type).toBe("blocked");
      expect(err.message).toMatch(/policy "odd" answered a malformed assessment: .+ \(fail closed\)/);
      const decided = sink.ofType("tool_call_decided")[0]!.data;
      expect(decided.risk?.rule).toBe("fail-closed:policy-error");
      expect(decided.stages.find((s) => s.stage === "classify")?.note).toMatch(/malformed/);
    },
  );

  it("a policy answering BLOCK through a native Promise is honoured; a rejecting one blocks", async () => {
    const { tool, ran } = recorder();
    // Each promise is made when the policy is asked (a rejection made earlier would be reported unhandled
    // while the run waits for its audit trail to open, before the pipeline reaches it).
    const verdicts = [
      () => Promise.resolve({ level: "BLOCK", reason: "async no", rule: "r" }),
      () => Promise.reject(new Error("db down")),
      () => Promise.resolve({ level: "LOW", reason: "fine", rule: "r" }),
    ];
    const policy: Policy = { name: "async", classify: () => verdicts.shift()!() as never };
    const h = scriptHarness(
      [{ tool_calls: [1, 2, 3].map((n) => ({ tool: "act", input: { n } })) }, { say: "ok" }],
      { tools: [tool], policy },
    );
    const r = await h.session().run("go");
    const [a, b, c] = r.messages[2]?.content ?? [];
    expect(errorOf(a).message).toBe("Blocked by policy: async no (rule r).");
    expect(errorOf(b).message).toMatch(/policy "async" failed: db down \(fail closed\)/);
    expect(contentOf(c)).toBe("ran");
    expect(ran).toEqual([{ n: 3 }]);
  });

  it("a policy cannot change its verdict after the fact through a getter", async () => {
    const { tool, ran } = recorder();
    let reads = 0;
    const sneaky = {
      get level() {
        return reads++ === 0 ? "BLOCK" : "LOW";
      },
      reason: "flip",
      rule: "r",
    };
    const policy = { name: "flip", classify: () => sneaky } as unknown as Policy;
    const h = scriptHarness([callTurn("act", { n: 1 }), { say: "ok" }], { tools: [tool], policy });
    const r = await h.session().run("go");
    expect(errorOf(r.messages[2]?.content[0]).type).toBe("blocked");
    expect(ran).toEqual([]);
  });

  it.each([["block"], ["HIGHT"], [{}]])(
    "a tool declaring risk level %j is refused at definition and at registration",
    (level) => {
      expect(() =>
        defineTool({
          name: "bad",
          description: "bad level",
          input: z.object({}),
          risk: { level, reason: "x" } as never,
          execute: () => "",
        }),
      ).toThrow(expect.objectContaining({ code: "REIN_TOOL_DEFINITION_INVALID" }));
      const handMade = {
        ...recorder().tool,
        name: "bad",
        risk: { level, reason: "x" },
      } as unknown as Tool;
      expect(() => new ToolRegistry([handMade])).toThrow(
        /declares an invalid risk profile: unknown risk level/,
      );
    },
  );

  it.each([
    [
      "throws",
      () => {
        throw new Error("guard bug");
      },
      /guard "g" failed: guard bug \(fail closed\)/,
    ],
    ["answers undefined", () => undefined, /guard "g" answered a malformed verdict/],
    ["answers true", () => true, /guard "g" answered a malformed verdict/],
    ["answers a thenable", () => thenableOf({ action: "allow" }), /guard "g" answered a malformed verdict/],
    [
      "raises to an unknown level",
      () => ({ action: "raise", level: "LOWEST", reason: "x" }),
      /malformed verdict/,
    ],
  ])("a guard's beforeToolCall that %s denies the call", async (_, answer, message) => {
    const { tool, ran } = recorder();
    const guard = { name: "g", beforeToolCall: answer } as unknown as Guard;
    const h = scriptHarness([callTurn("act", { n: 1 }), { say: "ok" }], { tools: [tool], guards: [guard] });
    const r = await h.session().run("go");
    const err = errorOf(r.messages[2]?.content[0]);
    expect(err.type).toBe("guard_denied");
    expect(err.message).toMatch(message);
    expect(ran).toEqual([]);
  });

  it.each([
    ["true", true],
    ['"allow"', "allow"],
    ["{ deny: 1 }", { deny: 1 }],
    ["{ requireApproval: 'yes' }", { requireApproval: "yes" }],
    ["a thenable", thenableOf(undefined)],
  ])("a beforeToolCall hook answering %s denies the call", async (_, answer) => {
    const { tool, ran } = recorder();
    const h = scriptHarness([callTurn("act", { n: 1 }), { say: "ok" }], {
      tools: [tool],
      hooks: { beforeToolCall: () => answer as never },
    });
    const r = await h.session().run("go");
    const err = errorOf(r.messages[2]?.content[0]);
    expect(err).toMatchObject({ type: "permission_denied" });
    expect(err.message).toMatch(/beforeToolCall hook answered garbage: .+ \(fail closed\)/);
    expect(ran).toEqual([]);
  });

  it.each([
    ["a string", "yes"],
    ["true", true],
    ["approved without a scope", { outcome: "approved", by: "g" }],
    ["an unknown outcome", { outcome: "ok", by: "g" }],
  ])(
    "a gate answering %s denies and says the answer was malformed, not that it timed out",
    async (_, answer) => {
      const { tool, ran } = recorder("HIGH");
      const gate: ApprovalGate = { name: "odd", decide: async () => answer as never };
      const h = scriptHarness([callTurn("act", { n: 1 }), { say: "ok" }], {
        tools: [tool],
        approvals: { gate },
      });
      const r = await h.session().run("go");
      const err = errorOf(r.messages[2]?.content[0]);
      expect(err.type).toBe("permission_denied");
      expect(err.message).toMatch(/gate "odd" answered a malformed decision: .+ \(fail closed\)/);
      expect(err.message).not.toMatch(/no decision within/);
      expect(ran).toEqual([]);
    },
  );

  it("a HIGH call with no approval gate is denied, and the reason says how to approve", async () => {
    const { tool, ran } = recorder("HIGH");
    const sink = recordingSink();
    const h = scriptHarness([callTurn("act", { n: 1 }), { say: "ok" }], { tools: [tool], sinks: [sink] });
    const r = await h.session().run("go");
    const err = errorOf(r.messages[2]?.content[0]);
    expect(err.type).toBe("permission_denied");
    expect(err.message).toContain("no approval gate is configured");
    expect(err.message).toContain("createHarness({ approvals: { gate } })");
    expect(ran).toEqual([]);
    expect(sink.ofType("tool_call_decided")[0]?.data.stages.at(-1)).toMatchObject({
      stage: "approve",
      outcome: "deny",
    });
    // A MEDIUM call still runs without a gate.
    const medium = recorder("MEDIUM");
    const m = scriptHarness([callTurn("act", { n: 2 }), { say: "ok" }], { tools: [medium.tool] });
    await m.session().run("go");
    expect(medium.ran).toEqual([{ n: 2 }]);
  });
});

describe("guards at every point they are called", () => {
  it("beforeModelCall can stop the run before the model is called; a throwing one stops it with REIN_GUARD_FAILED", async () => {
    const stopper: Guard = {
      name: "budget",
      beforeModelCall: () => ({ action: "stop", stop: { type: "cost_ceiling", limitUsd: 1, spentUsd: 1 } }),
    };
    const sink = recordingSink();
    const h = scriptHarness([{ say: "never" }], { guards: [stopper], sinks: [sink] });
    const r = await h.session().run("go");
    expect(r.stopReason).toEqual({ type: "cost_ceiling", limitUsd: 1, spentUsd: 1 });
    expect(sink.ofType("model_call_started")).toHaveLength(0);

    const broken = { name: "broken", beforeModelCall: () => "allow" } as unknown as Guard;
    const b = await scriptHarness([{ say: "never" }], { guards: [broken] })
      .session()
      .run("go");
    expect(b.stopReason).toMatchObject({ type: "error", code: "REIN_GUARD_FAILED" });
    expect((b.stopReason as { message: string }).message).toMatch(
      /guard "broken" beforeModelCall answered a malformed verdict/,
    );
  });

  it.each([
    [
      "throws",
      () => {
        throw new Error("counter overflow");
      },
    ],
    ["answers garbage", () => ({ action: "deny", reason: "too late to deny" })],
  ])(
    "an afterToolCall guard that %s stops the run typed; the call keeps its result and audit record",
    async (_, after) => {
      const { tool, ran } = recorder();
      const guard = { name: "after", afterToolCall: after } as unknown as Guard;
      const sink = recordingSink();
      const h = scriptHarness(
        [
          {
            tool_calls: [
              { tool: "act", input: { n: 1 } },
              { tool: "act", input: { n: 2 } },
            ],
          },
          { say: "never" },
        ],
        { tools: [tool], guards: [guard], sinks: [sink] },
      );
      const session = h.session();
      const r = await session.run("go");
      expect(r.stopReason).toMatchObject({ type: "error", code: "REIN_GUARD_FAILED" });
      expect(ran).toEqual([{ n: 1 }]); // the second call does not run once the run is stopping
      const results = r.messages[2]?.content ?? [];
      expect(results.map((b) => (b as { tool_use_id: string }).tool_use_id)).toEqual([
        "toolu_1_0",
        "toolu_1_1",
      ]);
      expect(contentOf(results[0])).toBe("ran");
      expect(errorOf(results[1]).type).toBe("cancelled");
      await session.close();
      const { readFileSync } = await import("node:fs");
      const audit = readFileSync(h.auditFile(session.id)!, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(
        audit.filter((rec) => rec.kind === "tool_call").map((rec) => [rec.callId, rec.executed]),
      ).toEqual([
        ["toolu_1_0", true],
        ["toolu_1_1", false],
      ]);
    },
  );
});

describe("fail closed: gates that answer with a thenable", () => {
  it("a gate whose decide returns a thenable resolving to approval is denied, never run", async () => {
    const { tool, ran } = recorder("HIGH");
    const gate = {
      name: "thenable",
      decide: () => thenableOf({ outcome: "approved", by: "x", scope: "once" }),
    } as unknown as ApprovalGate;
    const h = scriptHarness([callTurn("act", { n: 1 }), { say: "ok" }], {
      tools: [tool],
      approvals: { gate },
    });
    const r = await h.session().run("go");
    expect(errorOf(r.messages[2]?.content[0]).message).toMatch(
      /answered a malformed decision: expected an approval decision, got a thenable/,
    );
    expect(ran).toEqual([]);
  });
});

describe("fail closed: post-processing that answers garbage withholds the result", () => {
  it.each([
    ["a string", "secret leaked"],
    ["ok without content", { ok: true }],
    ["a thenable", thenableOf({ ok: true, content: "x", truncated: false })],
  ])("an afterToolCall hook answering %s withholds the result; the run goes on", async (_, answer) => {
    const { tool, ran } = recorder();
    const h = scriptHarness([callTurn("act", { n: 1 }), { say: "after" }], {
      tools: [tool],
      hooks: { afterToolCall: () => answer as never },
    });
    const r = await h.session().run("go");
    expect(ran).toEqual([{ n: 1 }]);
    expect(errorOf(r.messages[2]?.content[0])).toEqual({
      type: "tool_error",
      message: "The result was withheld: the afterToolCall hook failed.",
    });
    expect(r.finalText).toBe("after");
  });

  it.each([
    ["garbage", () => ({ ok: "yes" })],
    [
      "the outcome it was given, changed in place to a malformed one",
      (outcome: { content: unknown }) => {
        outcome.content = 42;
        return outcome;
      },
    ],
  ])("a result processor answering %s withholds the result", async (_, process) => {
    const { tool } = recorder();
    const h = scriptHarness([callTurn("act", { n: 1 }), { say: "after" }], {
      tools: [tool],
      resultProcessors: [{ name: "redactor", process: process as never }],
    });
    const r = await h.session().run("go");
    expect(errorOf(r.messages[2]?.content[0]).message).toBe(
      'The result was withheld: processor "redactor" failed.',
    );
  });
});
