import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineTool, ToolProfilePolicy } from "../../src/index.js";

describe("ToolProfilePolicy", () => {
  const call = (risk?: { level: "LOW" | "HIGH"; reason: string }) => ({
    tool: defineTool({
      name: "t",
      description: "t",
      input: z.object({}),
      ...(risk ? { risk } : {}),
      execute: () => "",
    }),
    input: {},
    sessionId: "s",
    tenantId: "local",
  });

  it("uses the tool's declared level, reason and names the rule", () => {
    expect(new ToolProfilePolicy().classify(call({ level: "LOW", reason: "pure" }))).toEqual({
      level: "LOW",
      reason: "pure",
      rule: "tool-profile:t",
    });
  });

  it("treats a tool that declares no risk as HIGH", () => {
    expect(new ToolProfilePolicy().classify(call())).toEqual({
      level: "HIGH",
      reason: 'tool "t" declares no risk profile',
      rule: "default:undeclared-tool",
    });
  });
});
