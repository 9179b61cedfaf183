import { describe, expect, it } from "vitest";
import { z } from "zod";
import { callbackGate, createHarness, defineTool, StallDetector, ToolFailure } from "../../src/index.js";
import { recordingSink, scriptedModel } from "../../src/testing.js";

/** A little project the tools work on: files to read, a status that changes, tests that fail until fixed. */
function project() {
  const files: Record<string, string> = { "a.txt": "alpha", "b.txt": "beta", "c.txt": "gamma" };
  let polls = 0;
  let failing = 10;
  const ran: string[] = [];
  const tools = [
    defineTool({
      name: "read",
      description: "reads a file",
      input: z.object({ path: z.string() }),
      risk: { level: "LOW", reason: "read" },
      readOnly: true,
      execute: ({ path }) => {
        ran.push(`read ${path}`);
        const text = files[path];
        if (text === undefined) throw new ToolFailure("not_found", `no file ${path}`);
        return text;
      },
    }),
    defineTool({
      name: "status",
      description: "job status",
      input: z.object({ job: z.string() }),
      risk: { level: "LOW", reason: "read" },
      readOnly: true,
      execute: () => `running, ${++polls} checks so far`,
    }),
    defineTool({
      name: "edit",
      description: "edits a file",
      input: z.object({ path: z.string(), text: z.string() }),
      risk: { level: "MEDIUM", reason: "writes" },
      execute: ({ path, text }) => {
        files[path] = text;
        failing = Math.max(0, failing - 1);
        return "saved";
      },
    }),
    defineTool({
      name: "edit_noop",
      description: "an edit that changes nothing",
      input: z.object({ path: z.string(), text: z.string() }),
      risk: { level: "MEDIUM", reason: "writes" },
      execute: () => "saved",
    }),
    defineTool({
      name: "run_tests",
      description: "runs the tests",
      input: z.object({}),
      risk: { level: "LOW", reason: "tests" },
      execute: () => {
        if (failing > 0) throw new ToolFailure("tests_failed", `${failing} tests failing`);
        return "all tests pass";
      },
    }),
  ];
  return { tools, ran };
}

function harness(turns: unknown[], stall: true | object = true) {
  const sink = recordingSink();
  const { tools, ran } = project();
  const h = createHarness({
    model: scriptedModel({ name: "stall", turns }),
    tools,
    audit: false,
    limits: { maxTurns: 1000 },
    guards: { stall },
    sinks: [sink],
    // Results are compared with what the tools returned; spotlighting (on by default) is tested in tests/security.
    security: { spotlight: false },
  });
  return { h, sink, ran };
}

const call = (tool: string, input: Record<string, unknown> = {}) => ({ tool_calls: [{ tool, input }] });
const cycle = (calls: object[], times: number) => Array.from({ length: times }, () => calls).flat();
const resultText = (messages: readonly { content: readonly unknown[] }[], i: number) =>
  (messages[i]!.content[0] as { content: string }).content;

describe("stall detection stops real loops", () => {
  it("the same call with the same result: a warning and a note to the model, then `stalled` naming the call", async () => {
    const { h, sink, ran } = harness([...cycle([call("read", { path: "a.txt" })], 30), { say: "done" }]);
    const r = await h.session().run("loop");
    expect(r.stopReason).toEqual({
      type: "stalled",
      diagnostic: 'the same call read {"path":"a.txt"} repeated 9 times with the same results',
    });
    // Window 6: warned at the 6th call, stopped 3 calls later; nothing ran after the stop.
    expect(ran).toHaveLength(9);
    const [warning] = sink.ofType("stall_warning");
    expect(warning?.data).toMatchObject({
      kind: "cycle",
      cycle: ['read {"path":"a.txt"}'],
      repeats: 6,
      turn: 6,
    });
    const sixth = resultText(r.messages, 12);
    expect(sixth).toMatch(/^alpha\n\n\[Rein guard note\] \[stall\] the same call read .* repeated 6 times/);
    expect(sixth).toContain("the run will be stopped");
    // The note is in what the model read, the event, and so the audit; the fifth result had none.
    expect(resultText(r.messages, 10)).toBe("alpha");
  });

  it("A,B,A,B: stops naming both calls of the cycle", async () => {
    const turns = [
      ...cycle([call("read", { path: "a.txt" }), call("edit_noop", { path: "a.txt", text: "x" })], 20),
      { say: "done" },
    ];
    const { h, sink } = harness(turns);
    const r = await h.session().run("loop");
    expect(r.stopReason).toEqual({
      type: "stalled",
      diagnostic:
        'the cycle edit_noop {"path":"a.txt","text":"x"} → read {"path":"a.txt"} repeated 4 times with the same results',
    });
    expect(sink.ofType("stall_warning")[0]?.data.cycle).toEqual([
      'read {"path":"a.txt"}',
      'edit_noop {"path":"a.txt","text":"x"}',
    ]);
  });

  it("A,B,C,A,B,C: a cycle of three is caught with a window of 6", async () => {
    const abc = [
      call("read", { path: "a.txt" }),
      call("read", { path: "b.txt" }),
      call("read", { path: "c.txt" }),
    ];
    const { h, sink } = harness([...cycle(abc, 10), { say: "done" }]);
    const r = await h.session().run("loop");
    expect(r.stopReason.type).toBe("stalled");
    expect((r.stopReason as { diagnostic: string }).diagnostic).toMatch(
      /^the cycle read .*a\.txt.* → read .*b\.txt.* → read .*c\.txt/,
    );
    expect(sink.ofType("stall_warning")[0]?.data.turn).toBe(6);
    expect(r.turns).toBe(9);
  });

  it("canonical arguments: the same call with its keys in another order is the same call", async () => {
    const turns = [
      ...cycle(
        [
          { tool_calls: [{ tool: "edit_noop", input: { path: "a.txt", text: "x" } }] },
          { tool_calls: [{ tool: "edit_noop", input: { text: "x", path: "a.txt" } }] },
        ],
        10,
      ),
      { say: "done" },
    ];
    const r = await harness(turns).h.session().run("loop");
    expect(r.stopReason.type).toBe("stalled");
  });

  it("the same error again and again, with other calls between, is no progress: warned at 3, stopped at 5", async () => {
    // "I fixed it" (an edit that changes nothing), run the tests, the same failure, again and again.
    const turns = [
      ...Array.from({ length: 10 }, (_, i) => [
        call("edit_noop", { path: "a.txt", text: `fix ${i}` }),
        call("run_tests"),
      ]).flat(),
      { say: "done" },
    ];
    const { h, sink } = harness(turns);
    const r = await h.session().run("fix the tests");
    expect(r.stopReason).toEqual({
      type: "stalled",
      diagnostic: "no progress: run_tests {} failed 5 times with the same error (the same result each time)",
    });
    expect(r.turns).toBe(10);
    const warning = sink.ofType("stall_warning")[0]!;
    expect(warning.data).toMatchObject({ kind: "same_error", repeats: 3, cycle: ["run_tests {}"] });
    expect(resultText(r.messages, 12)).toContain("Repeating it will not help");
  });

  it("a model that changes course after the warning is not stopped", async () => {
    const turns = [
      ...cycle([call("read", { path: "a.txt" })], 7),
      call("read", { path: "b.txt" }),
      call("status", { job: "1" }),
      { say: "done" },
    ];
    const { h, sink } = harness(turns);
    const r = await h.session().run("loop then stop");
    expect(r.stopReason).toEqual({ type: "completed" });
    expect(sink.ofType("stall_warning")).toHaveLength(1);
  });

  it("a new human turn starts afresh", async () => {
    const half = cycle([call("read", { path: "a.txt" })], 5);
    const { h, sink } = harness([...half, { say: "one" }, ...half, { say: "two" }]);
    const s = h.session();
    expect((await s.run("one")).stopReason.type).toBe("completed");
    expect((await s.run("two")).stopReason.type).toBe("completed");
    expect(sink.ofType("stall_warning")).toHaveLength(0);
  });
});

describe("a denied call retried forever is a stall", () => {
  /** A deploy a person refuses every time, and a read beside it. */
  function deniedHarness(turns: unknown[], extra: { hooks?: object; guards?: object } = {}) {
    const sink = recordingSink();
    const asked: string[] = [];
    const ran: string[] = [];
    const h = createHarness({
      model: scriptedModel({ name: "denied", turns }),
      tools: [
        defineTool({
          name: "deploy",
          description: "deploys",
          input: z.object({ env: z.string() }),
          risk: { level: "HIGH", reason: "deploys" },
          execute: ({ env }) => {
            ran.push(env);
            return "deployed";
          },
        }),
        ...project().tools,
      ],
      approvals: {
        gate: callbackGate((req) => {
          asked.push(req.tool);
          return { approve: false, reason: "no deploys today" };
        }),
      },
      audit: false,
      limits: { maxTurns: 1000 },
      guards: { stall: true, ...extra.guards },
      ...(extra.hooks ? { hooks: extra.hooks } : {}),
      sinks: [sink],
      security: { spotlight: false },
    });
    return { h, sink, asked, ran };
  }

  it("the same call denied by a person again and again: warned at the 3rd denial, stopped at the 5th", async () => {
    const { h, sink, asked, ran } = deniedHarness([
      ...cycle([call("deploy", { env: "prod" })], 30),
      { say: "done" },
    ]);
    const r = await h.session().run("deploy");
    expect(r.stopReason).toEqual({
      type: "stalled",
      diagnostic:
        'no progress: deploy {"env":"prod"} failed 5 times with the same error (the same result each time)',
    });
    // Asked 5 times, never run, and nothing asked after the stop.
    expect(asked).toHaveLength(5);
    expect(ran).toEqual([]);
    const [warning] = sink.ofType("stall_warning");
    expect(warning?.data).toMatchObject({ kind: "same_error", repeats: 3, cycle: ['deploy {"env":"prod"}'] });
    // The model read the note with the 3rd denial, not before.
    expect(resultText(r.messages, 6)).toMatch(
      /^\{"error":\{"type":"permission_denied","message":"Permission denied: no deploys today\\n\\n\[Rein guard note\] \[stall\] deploy/,
    );
    expect(resultText(r.messages, 4)).not.toContain("Rein guard note");
  });

  it("a denied call in a cycle with a read: the denials are counted across the other calls", async () => {
    const { h, asked } = deniedHarness([
      ...cycle([call("deploy", { env: "prod" }), call("read", { path: "a.txt" })], 20),
      { say: "done" },
    ]);
    const r = await h.session().run("deploy");
    expect(r.stopReason.type).toBe("stalled");
    expect(asked).toHaveLength(5);
    expect(r.turns).toBe(9);
  });

  it("a call a hook denies every time is stopped too", async () => {
    const { h } = deniedHarness(
      [...cycle([call("edit", { path: "a.txt", text: "x" })], 30), { say: "done" }],
      {
        hooks: { beforeToolCall: () => ({ deny: "read-only today" }) },
      },
    );
    const r = await h.session().run("edit");
    expect(r.stopReason).toEqual({
      type: "stalled",
      diagnostic:
        'no progress: edit {"path":"a.txt","text":"x"} failed 5 times with the same error (the same result each time)',
    });
  });

  it("a model that takes a denial twice and then changes course is not stopped", async () => {
    const { h, sink, asked } = deniedHarness([
      call("deploy", { env: "prod" }),
      call("deploy", { env: "prod" }),
      call("read", { path: "a.txt" }),
      call("status", { job: "1" }),
      { say: "I could not deploy: it was refused" },
    ]);
    const r = await h.session().run("deploy");
    expect(r.stopReason).toEqual({ type: "completed" });
    expect(asked).toHaveLength(2);
    expect(sink.ofType("stall_warning")).toHaveLength(0);
  });

  it("a guard whose afterDeniedCall throws stops the run (fail closed)", async () => {
    const { h, asked } = deniedHarness([...cycle([call("deploy", { env: "prod" })], 5), { say: "done" }], {
      guards: {
        custom: [
          {
            name: "broken",
            afterDeniedCall: () => {
              throw new Error("boom");
            },
          },
        ],
      },
    });
    const r = await h.session().run("deploy");
    expect(r.stopReason).toMatchObject({ type: "error", code: "REIN_GUARD_FAILED" });
    expect((r.stopReason as { message: string }).message).toContain(
      'guard "broken" afterDeniedCall threw: boom',
    );
    expect(asked).toHaveLength(1);
  });
});

describe("no false stops on legitimate repetition", () => {
  it("reading 200 different files", async () => {
    const turns = [
      ...Array.from({ length: 200 }, (_, i) => call("read", { path: `f${i}.txt` })),
      { say: "done" },
    ];
    const { h, sink, ran } = harness(turns);
    const r = await h.session().run("read them all");
    expect(r.stopReason).toEqual({ type: "completed" });
    expect(ran).toHaveLength(200);
    expect(sink.ofType("stall_warning")).toHaveLength(0);
  });

  it("polling the same status 100 times while its result changes", async () => {
    const { h, sink } = harness([
      { tool_calls: [{ tool: "status", input: { job: "build" } }], repeat: 100 },
      { say: "done" },
    ]);
    const r = await h.session().run("wait for the build");
    expect(r.stopReason).toEqual({ type: "completed" });
    expect(sink.ofType("stall_warning")).toHaveLength(0);
  });

  it("re-running the same tests after each real edit, until they pass", async () => {
    const turns = [
      ...Array.from({ length: 10 }, (_, i) => [
        call("edit", { path: "a.txt", text: `fix ${i}` }),
        call("run_tests"),
      ]).flat(),
      call("run_tests"),
      { say: "done" },
    ];
    const { h, sink } = harness(turns);
    const r = await h.session().run("fix the tests");
    expect(r.stopReason).toEqual({ type: "completed" });
    expect(resultText(r.messages, r.messages.length - 2)).toBe("all tests pass");
    expect(sink.ofType("stall_warning")).toHaveLength(0);
  });
});

describe("StallDetector", () => {
  it("keeps state per session and releases it when the session closes", async () => {
    const detector = new StallDetector({ window: 4 });
    const { tools } = project();
    const h = createHarness({
      model: scriptedModel({
        name: "s",
        turns: [...cycle([call("read", { path: "a.txt" })], 2), { say: "done" }],
      }),
      tools,
      audit: false,
      guards: [detector],
    });
    for (let i = 0; i < 1000; i++) {
      const s = h.session();
      await s.run("go");
      await s.close();
    }
    expect(detector.trackedSessions).toBe(0);
    const open = Array.from({ length: 3 }, () => h.session());
    for (const s of open) await s.run("go");
    expect(detector.trackedSessions).toBe(3);
  });

  it("rejects a bad configuration with the field named", () => {
    expect(() => new StallDetector({ window: 1 })).toThrow(/stall\.window must be an integer from 2 to 64/);
    expect(() => new StallDetector({ sameErrorWarnAt: 4, sameErrorStopAt: 3 })).toThrow(/sameErrorStopAt/);
    expect(() => createHarness({ model: "scripted:demo", guards: { stall: { window: 100 } } })).toThrow(
      /config\.guards/,
    );
  });
});
