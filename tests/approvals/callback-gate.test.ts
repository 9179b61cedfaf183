import { describe, expect, it } from "vitest";
import { z } from "zod";
import { callbackGate, defineTool } from "../../src/index.js";
import { contractApprovalRequest, recordingSink, thenable } from "../../src/testing.js";
import { callTurn, contentOf, scriptHarness } from "../helpers.js";

const decide = (answer: unknown) =>
  callbackGate(() => answer as never).decide(contractApprovalRequest(), new AbortController().signal);

describe("callbackGate approves only on true or { approve: true }", () => {
  it.each([
    ['the string "no"', "no", 'the approval callback answered the string "no"'],
    ['the string "yes"', "yes", 'the approval callback answered the string "yes"'],
    ["the number 1", 1, "the approval callback answered the number 1"],
    ["an empty object", {}, "the approval callback answered the object {}"],
    [
      '{ approve: "true" }',
      { approve: "true" },
      'the approval callback answered the object {"approve":"true"}',
    ],
    ["undefined", undefined, "the approval callback answered nothing (undefined)"],
    [
      "an unknown field beside approve: true",
      { approve: true, scope: "session" },
      '{"approve":true,"scope":"session"}',
    ],
  ])("denies %s, saying what it received", async (_what, answer, reason) => {
    const decision = await decide(answer);
    expect(decision).toEqual({
      outcome: "denied",
      by: "callback",
      reason: expect.stringContaining(reason),
    });
    expect(decision.outcome === "denied" && decision.reason).toContain(
      "only true or { approve: true } approves (fail closed)",
    );
  });

  it("validates what a promise or thenable settles with, not the thenable itself", async () => {
    expect(await decide(Promise.resolve(true))).toMatchObject({ outcome: "approved" });
    expect(await decide(thenable((ok) => ok(true)))).toMatchObject({ outcome: "approved" });
    expect(await decide(thenable((ok) => ok("yes")))).toMatchObject({
      outcome: "denied",
      reason: expect.stringContaining('the string "yes"'),
    });
    // A thenable that is a truthy object with approve: true but resolves to something else.
    const twoFaced = thenable((ok) => ok({ approve: "true" }), { approve: true });
    expect(await decide(twoFaced)).toMatchObject({ outcome: "denied" });
  });

  it("passes on the callback's own reason for a refusal", async () => {
    expect(await decide({ approve: false, reason: "no deletes today" })).toEqual({
      outcome: "denied",
      by: "callback",
      reason: "no deletes today",
    });
    expect(await decide(false)).toEqual({
      outcome: "denied",
      by: "callback",
      reason: "denied by the approval callback",
    });
  });

  it("an answer whose fields throw when read denies, naming the failure", async () => {
    const hostile = {
      get approve(): boolean {
        throw new Error("getter trap");
      },
    };
    expect(await decide(hostile)).toEqual({
      outcome: "denied",
      by: "callback",
      reason: "the approval callback's answer could not be read: getter trap (fail closed)",
    });
  });

  it("stops waiting when the signal aborts, and hands the callback the signal", async () => {
    let seen: AbortSignal | undefined;
    const gate = callbackGate((_req, signal) => {
      seen = signal;
      return new Promise<never>(() => {});
    });
    const controller = new AbortController();
    const pending = gate.decide(contractApprovalRequest(), controller.signal);
    controller.abort("approval timed out");
    await expect(pending).rejects.toBe("approval timed out");
    expect(seen).toBe(controller.signal);
  });

  it('in a run, a callback answering "yes" leaves the HIGH call unexecuted, with the reason', async () => {
    let executed = false;
    const nuke = defineTool({
      name: "nuke",
      description: "destroys",
      input: z.object({}),
      risk: { level: "HIGH", reason: "destroys things" },
      execute: () => {
        executed = true;
        return "boom";
      },
    });
    const sink = recordingSink();
    const h = scriptHarness([callTurn("nuke"), { say: "ok" }], {
      tools: [nuke],
      approvals: { gate: callbackGate(() => "yes" as never) },
      sinks: [sink],
    });
    const r = await h.session().run("go");
    expect(executed).toBe(false);
    expect(JSON.parse(contentOf(r.messages[2]?.content[0])).error).toEqual({
      type: "permission_denied",
      message: expect.stringContaining('the approval callback answered the string "yes"'),
    });
    expect(sink.ofType("tool_call_decided")[0]?.data.approval).toMatchObject({
      outcome: "denied",
      by: "callback",
    });
  });
});
