import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createHarness, verifyAuditText } from "../../src/index.js";
import { scriptedModel } from "../../src/testing.js";
import { echoTool, tempDir } from "../helpers.js";

const model = () =>
  scriptedModel({
    name: "audit-default",
    turns: [{ tool_calls: [{ tool: "echo", input: { text: "hi" } }] }, { say: "done" }],
  });

describe("where a library harness's audit trail goes", () => {
  it("by default it is kept in memory: nothing is written to disk, session_started says so, the trail verifies", async () => {
    const cwd = process.cwd();
    const before = readdirSync(cwd);
    const harness = createHarness({ model: model(), tools: [echoTool] });
    const session = harness.session();
    const result = await session.run("echo hi");
    await session.close();
    expect(result.status).toBe("completed");
    expect(readdirSync(cwd)).toEqual(before);
    expect(existsSync(join(cwd, ".rein"))).toBe(before.includes(".rein"));
    const started = harness.eventLog.read({ tenantId: "local", sessionId: session.id }, 0)[0];
    expect(started?.type === "session_started" && started.data.audit).toEqual({ kind: "memory" });
    expect(harness.auditFile(session.id)).toBeUndefined();
    const trail = harness.auditTrail(session.id)!;
    expect(trail.inMemory).toBe(true);
    expect(trail.records).toBe(1);
    const verdict = verifyAuditText(trail.text());
    expect(verdict).toMatchObject({
      ok: true,
      status: "sealed",
      records: 1,
      seals: 2,
      headHash: trail.headHash,
    });
    // The in-memory chain is the same as a file's: a tampered line fails verification.
    const tampered = trail.text().replace('"text":"hi"', '"text":"ho"');
    expect(verifyAuditText(tampered)).toMatchObject({ ok: false, status: "tampered", line: 1 });
  });

  it("audit: { dir } writes a file and says where; audit: false keeps none and says so", async () => {
    const dir = join(tempDir(), "audit");
    const onDisk = createHarness({ model: model(), tools: [echoTool], audit: { dir } });
    const s1 = onDisk.session();
    await s1.run("echo hi");
    const file = join(dir, `${s1.id}.jsonl`);
    const started = onDisk.eventLog.read({ tenantId: "local", sessionId: s1.id }, 0)[0];
    expect(started?.type === "session_started" && started.data.audit).toEqual({ kind: "file", file });
    expect(existsSync(file)).toBe(true);
    expect(() => onDisk.auditTrail(s1.id)!.text()).toThrow(/is a file/);

    const none = createHarness({ model: model(), tools: [echoTool], audit: false });
    const s2 = none.session();
    await s2.run("echo hi");
    const started2 = none.eventLog.read({ tenantId: "local", sessionId: s2.id }, 0)[0];
    expect(started2?.type === "session_started" && started2.data.audit).toEqual({ kind: "none" });
    expect(none.auditTrail(s2.id)).toBeUndefined();
  });

  it("session_ended carries the last run's id, never an empty one", async () => {
    const harness = createHarness({ model: model(), tools: [echoTool] });
    const session = harness.session();
    const result = await session.run("echo hi");
    await session.close();
    const ended = harness.eventLog.read({ tenantId: "local", sessionId: session.id }, result.lastSeq).at(-1);
    expect(ended?.type).toBe("session_ended");
    expect(ended?.runId).toBe(result.runId);
  });
});
