import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { type ApprovalRequest, lineDiff, maskSecrets, terminalGate } from "../../src/index.js";

function request(tool: string, input: unknown, argsHash = "ab".repeat(32)): ApprovalRequest {
  return {
    id: "apr_1",
    tenantId: "local",
    sessionId: "ses_1",
    runId: "run_1",
    callId: "call_1",
    tool,
    input,
    argsHash,
    risk: { level: "HIGH", reason: "rm -r deletes build recursively", rule: "shell:recursive-delete" },
    requestedAt: 0,
  };
}

function terminal() {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = "";
  output.setEncoding("utf8");
  output.on("data", (c: string) => {
    shown += c;
  });
  /** Answers once the prompt is on screen (the gate is waiting for input then). */
  const answer = (text: string, prompt = "approve? [y/n/a] ") =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (shown.endsWith(prompt)) {
          output.off("data", check);
          input.write(`${text}\n`);
          resolve();
        }
      };
      output.on("data", check);
      check();
    });
  return { input, output, answer, shown: () => shown };
}

describe("terminalGate", () => {
  it("shows tool, level, reason, rule, masked input and details; y approves this call once", async () => {
    const t = terminal();
    const gate = terminalGate({
      input: t.input,
      output: t.output,
      details: () => ["HIGH rm -rf build — recursive"],
    });
    const decision = gate.decide(
      request("run_shell", {
        command: "rm -rf build",
        token: "s3cr3t",
        env: "key sk-abcdefghijklmnopqrstuv",
      }),
      new AbortController().signal,
    );
    await t.answer("y");
    expect(await decision).toEqual({ outcome: "approved", by: "terminal", scope: "once" });
    const shown = t.shown();
    for (const s of [
      "tool:   run_shell",
      "level:  HIGH",
      "reason: rm -r deletes build recursively",
      "rule:   shell:recursive-delete",
      "HIGH rm -rf build — recursive",
    ])
      expect(shown).toContain(s);
    expect(shown).not.toContain("s3cr3t");
    expect(shown).not.toContain("sk-abcdefghijklmnopqrstuv");
  });

  it("n asks for a reason and denies with it", async () => {
    const t = terminal();
    const decision = terminalGate({ input: t.input, output: t.output }).decide(
      request("run_shell", { command: "x" }),
      new AbortController().signal,
    );
    await t.answer("n");
    await t.answer("not on a Friday", "reason (told to the agent): ");
    expect(await decision).toEqual({ outcome: "denied", by: "terminal", reason: "not on a Friday" });
  });

  it("a allows this exact call for the session (the core binds it to the arguments' hash)", async () => {
    const t = terminal();
    const decision = terminalGate({ input: t.input, output: t.output }).decide(
      request("run_shell", { command: "x" }, "cd".repeat(32)),
      new AbortController().signal,
    );
    await t.answer("a");
    expect(await decision).toEqual({ outcome: "approved", by: "terminal", scope: "session" });
    expect(t.shown()).toContain("exactly these arguments (cdcdcdcdcdcd…)");
  });

  it("asks again on a wrong answer, and denies at end of input (fail closed)", async () => {
    const t = terminal();
    const decision = terminalGate({ input: t.input, output: t.output }).decide(
      request("run_shell", { command: "x" }),
      new AbortController().signal,
    );
    await t.answer("maybe");
    await new Promise<void>((resolve) => {
      const check = () =>
        t.shown().includes("please answer y, n or a") && t.shown().endsWith("approve? [y/n/a] ") && resolve();
      t.output.on("data", check);
      check();
    });
    t.input.end();
    expect(await decision).toEqual({
      outcome: "denied",
      by: "terminal",
      reason: "no answer (end of input); denied",
    });
  });

  it("shows a diff for write_file against the current content", async () => {
    const t = terminal();
    const gate = terminalGate({ input: t.input, output: t.output, readCurrent: async () => "a\nb\nc" });
    const decision = gate.decide(
      request("write_file", { path: "f.txt", content: "a\nB\nc" }),
      new AbortController().signal,
    );
    await t.answer("y");
    await decision;
    expect(t.shown()).toContain("  - b\n  + B\n");
  });

  it("an abort while waiting rejects (the pipeline records a denial)", async () => {
    const t = terminal();
    const ctrl = new AbortController();
    const decision = terminalGate({ input: t.input, output: t.output }).decide(
      request("run_shell", { command: "x" }),
      ctrl.signal,
    );
    ctrl.abort(new Error("the run was stopped"));
    await expect(decision).rejects.toThrow("the run was stopped");
  });

  it("masks secrets by key and by shape", () => {
    expect(
      maskSecrets({ password: "p", nested: { apiKey: "k" }, note: "AKIAABCDEFGHIJKLMNOP here" }),
    ).toEqual({
      password: "••••••",
      nested: { apiKey: "••••••" },
      note: "AKIA•••••• here",
    });
    expect(lineDiff(null, "x")).toEqual(["(new file)", "+++ proposed", "+ x"]);
  });
});
