import { describe, expect, it } from "vitest";
import { keptStages } from "../../src/core/pipeline/shared-stages.js";
import type { StageRecord } from "../../src/protocol/events.js";
import { echoTool, scriptHarness } from "../helpers.js";

const frozen = (stage: StageRecord["stage"], by: string): StageRecord =>
  Object.freeze({ stage, outcome: "pass", by });

describe("a decided call's stage list", () => {
  it("is one frozen list for every call that passed the same frozen records, equal to what was built", () => {
    const records = [frozen("validate", "a"), frozen("classify", "b"), frozen("approve", "c")];
    const first = keptStages([...records]);
    const second = keptStages([...records]);
    expect(first).toEqual(records);
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // Another list of the same records is another list.
    expect(keptStages(records.slice(0, 2))).toEqual(records.slice(0, 2));
    expect(keptStages(records.slice(0, 2))).not.toBe(first);
  });

  it("is an exact copy, neither shared nor frozen, when a record is not frozen (a denial's note)", () => {
    const own: StageRecord = { stage: "approve", outcome: "deny", by: "gate", note: "no" };
    const built = [frozen("validate", "a"), own];
    const kept = keptStages(built);
    expect(kept).toEqual(built);
    expect(kept).not.toBe(built);
    expect(Object.isFrozen(kept)).toBe(false);
    expect(keptStages([...built])).not.toBe(kept);
  });

  it("remembers a bounded number of lists: frozen records new on every call take turns in 16 slots", () => {
    const hot = [frozen("validate", "hot")];
    const shared = keptStages([...hot]);
    for (let i = 0; i < 40; i++) expect(keptStages([frozen("classify", `new ${i}`)])).toHaveLength(1);
    // Pushed out by then: made again (equal), and shared again from then on.
    const again = keptStages([...hot]);
    expect(again).toEqual(shared);
    expect(keptStages([...hot])).toBe(again);
  });

  it("two sessions' allowed calls record the same stage list object, with the stages of the pipeline", async () => {
    const h = scriptHarness(
      [{ tool_calls: [{ tool: "echo", input: { text: "x" } }] }, { say: "done" }, { say: "again" }],
      { tools: [echoTool] },
    );
    const stagesOf = async () => {
      const s = h.session();
      await s.run("go");
      const decided = h.eventLog
        .read({ tenantId: "local", sessionId: s.id }, 0)
        .find((e) => e.type === "tool_call_decided");
      await s.close();
      return decided?.type === "tool_call_decided" ? decided.data.stages : undefined;
    };
    const [a, b] = [await stagesOf(), await stagesOf()];
    expect(a?.map((r) => r.stage)).toEqual(["validate", "classify", "guards", "hooks", "approve"]);
    expect(b).toBe(a);
  });
});
