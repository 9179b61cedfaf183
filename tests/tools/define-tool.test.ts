import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineTool, ToolRegistry } from "../../src/index.js";

const base = { description: "d", input: z.object({ a: z.number() }), execute: () => "" };

describe("defineTool", () => {
  it("generates the JSON Schema the model sees, once, from zod", () => {
    const tool = defineTool({
      name: "add",
      ...base,
      input: z.object({ a: z.number().describe("first"), b: z.number().optional() }),
    });
    expect(tool.inputSchema).toEqual({
      type: "object",
      properties: { a: { type: "number", description: "first" }, b: { type: "number" } },
      required: ["a"],
    });
    expect(Object.isFrozen(tool.inputSchema)).toBe(true);
  });

  it("parses input with the schema and reports every issue with its path", () => {
    const tool = defineTool({
      name: "t",
      ...base,
      input: z.object({ a: z.number(), b: z.object({ c: z.string() }) }),
    });
    expect(tool.parse({ a: 1, b: { c: "x" } })).toEqual({ ok: true, value: { a: 1, b: { c: "x" } } });
    const bad = tool.parse({ a: "1", b: {} });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues.map((i) => i.path)).toEqual(["a", "b.c"]);
    const notObject = tool.parse("nope");
    expect(!notObject.ok && notObject.issues[0]?.path).toBe("(input)");
  });

  it.each([
    ["an invalid name", { name: "bad name!" }, /Tool name "bad name!" is invalid/],
    ["an empty description", { name: "t", description: " " }, /needs a non-empty description/],
    ["a non-zod input", { name: "t", input: { type: "object" } }, /input must be a zod schema/],
    ["a non-object schema", { name: "t", input: z.string() }, /input must be an object schema/],
    [
      "an unrepresentable schema",
      { name: "t", input: z.object({ d: z.date() }) },
      /cannot be expressed as JSON Schema/,
    ],
    ["a bad timeout", { name: "t", timeoutMs: -1 }, /timeoutMs must be a positive number/],
  ])("refuses %s with REIN_TOOL_DEFINITION_INVALID", (_what, override, message) => {
    expect(() => defineTool({ ...base, ...override } as never)).toThrow(message);
    expect(() => defineTool({ ...base, ...override } as never)).toThrow(
      expect.objectContaining({ code: "REIN_TOOL_DEFINITION_INVALID" }),
    );
  });
});

describe("ToolRegistry", () => {
  it("lists specs in registration order and rebuilds them only after a change", () => {
    const registry = new ToolRegistry([
      defineTool({ name: "a", ...base }),
      defineTool({ name: "b", ...base }),
    ]);
    const specs = registry.specs();
    expect(specs.map((s) => s.name)).toEqual(["a", "b"]);
    expect(registry.specs()).toBe(specs);
    registry.register(defineTool({ name: "c", ...base }));
    expect(registry.specs()).not.toBe(specs);
    expect(registry.names()).toEqual(["a", "b", "c"]);
  });
});
