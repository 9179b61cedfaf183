import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createHarness, defineTool, PriceBook } from "../../src/index.js";
import { formatIssuePath, formatIssues } from "../../src/protocol/zod-issues.js";

describe("formatIssues: one format for every zod error Rein reports", () => {
  it("writes paths as a reader does: dots for keys, brackets for indices, quotes for odd keys", () => {
    expect(formatIssuePath(["limits", "maxTurns"])).toBe("limits.maxTurns");
    expect(formatIssuePath(["tool_calls", 0, "tool"])).toBe("tool_calls[0].tool");
    expect(formatIssuePath(["overrides", "acme:x", "input"])).toBe("overrides.acme:x.input");
    // A key holding a dot must not read as two levels; control characters must not hide in the message.
    expect(formatIssuePath(["a.b", "c"])).toBe('["a.b"].c');
    expect(formatIssuePath(["x", "\u001b[2J"])).toBe('x["\\u001b[2J"]');
    expect(formatIssuePath(["x", ""])).toBe('x[""]');
    expect(formatIssuePath([Symbol("s")])).toBe("[Symbol(s)]");
    expect(formatIssuePath([])).toBe("(root)");
    expect(formatIssuePath([], "(input)")).toBe("(input)");
  });

  it("formats real zod issues as `path: message`, below a name when given", () => {
    const schema = z.strictObject({ limits: z.strictObject({ maxTurns: z.int().positive() }) });
    const r = schema.safeParse({ limits: { maxTurns: 0 }, extra: 1 });
    expect(r.success).toBe(false);
    const lines = formatIssues(r.error!.issues, { under: "config" });
    expect(lines).toEqual([
      "config.limits.maxTurns: Too small: expected number to be >0",
      'config: Unrecognized key: "extra"',
    ]);
    expect(formatIssues(z.string().safeParse(1).error!.issues)).toEqual([
      "(root): Invalid input: expected string, received number",
    ]);
  });

  it("createHarness names each bad field under config.", () => {
    expect(() => createHarness({ model: "scripted:demo", limits: { maxTurns: 0 } })).toThrow(
      "config.limits.maxTurns: Too small: expected number to be >0",
    );
    expect(() => createHarness({ model: "scripted:demo", limits: { maxTurns: 0 } })).toThrow(
      expect.objectContaining({ code: "REIN_CONFIG_INVALID", details: { fields: ["limits.maxTurns"] } }),
    );
  });

  it("a tool's input errors name the nested field with its index", () => {
    const tool = defineTool({
      name: "t",
      description: "d",
      input: z.object({ items: z.array(z.object({ name: z.string() })) }),
      execute: () => "",
    });
    const r = tool.parse({ items: [{ name: "a" }, { name: 2 }] });
    expect(r).toMatchObject({
      ok: false,
      message: "items[1].name: Invalid input: expected string, received number",
      issues: [{ path: "items[1].name", message: "Invalid input: expected string, received number" }],
    });
  });

  it("a price override's errors name the field inside the override", () => {
    expect(
      () => new PriceBook({ overrides: { "acme:x": { input: -1, output: 0, cacheRead: 0, cacheWrite: 0 } } }),
    ).toThrow(/^pricing.overrides\["acme:x"\] is invalid: input: Too small: expected number to be >=0$/);
  });
});
