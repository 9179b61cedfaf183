import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/config-file.js";
import type { ConfigError } from "../../src/index.js";

function errorOf(f: () => unknown): ConfigError {
  try {
    f();
  } catch (err) {
    return err as ConfigError;
  }
  throw new Error("expected an error");
}

describe("rein.config approvals section", () => {
  it("selects the durable gate (or the terminal one)", () => {
    expect(parseConfig("approvals:\n  gate: durable\n", "rein.config.yaml").approvals).toEqual({
      gate: "durable",
    });
    expect(parseConfig("approvals: { gate: terminal }", "rein.config.yaml").approvals).toEqual({
      gate: "terminal",
    });
    expect(parseConfig("model: scripted:x", "rein.config.yaml").approvals).toBeUndefined();
  });

  it("refuses a bad gate, naming the file, line and field", () => {
    const err = errorOf(() =>
      parseConfig("model: scripted:x\napprovals:\n  gate: later\n", "/p/rein.config.yaml"),
    );
    expect(err.code).toBe("REIN_CONFIG_INVALID");
    expect(err.message).toContain('/p/rein.config.yaml:3: approvals.gate: expected "terminal" or "durable"');
  });

  it("refuses an unknown key in the section (a typo is not silently the terminal gate)", () => {
    const err = errorOf(() => parseConfig("approvals:\n  mode: durable\n", "/p/rein.config.yaml"));
    expect(err.code).toBe("REIN_CONFIG_INVALID");
    expect(err.message).toMatch(/approvals: .*mode/);
  });
});
