import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createPolicyEngine, type PolicyEngine, RISK_LEVELS, type RiskLevel } from "../../src/index.js";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/shell-commands.yaml");
const rank = (l: RiskLevel) => RISK_LEVELS.indexOf(l);

/** Workspace and home the fixture's paths are written against. */
const FIXTURE_WHERE = { workspace: "/home/dev/project", home: "/home/dev" };

function fixtureRows(): { group: string; want: RiskLevel; command: string }[] {
  const doc = parse(readFileSync(FIXTURE, "utf8")) as Record<string, [RiskLevel, string][]>;
  return Object.entries(doc).flatMap(([group, rows]) =>
    rows.map(([want, command]) => ({ group, want, command })),
  );
}

describe("the shell command fixture (≥ 250 commands with expected levels)", () => {
  let engine: PolicyEngine;
  const rows = fixtureRows();
  beforeAll(async () => {
    engine = await createPolicyEngine(FIXTURE_WHERE);
  });

  it("has at least 250 commands covering every group", () => {
    expect(rows.length).toBeGreaterThanOrEqual(250);
    expect(new Set(rows.map((r) => r.group))).toEqual(
      new Set(["everyday", "destructive", "exfiltration", "obfuscation", "multi-line"]),
    );
    for (const level of RISK_LEVELS) expect(rows.some((r) => r.want === level)).toBe(true);
  });

  it("never under-classifies: every row is at least its expected level (0 on BLOCK rows)", () => {
    const under = rows
      .map((r) => ({ ...r, got: engine.explain("run_shell", { command: r.command }) }))
      .filter((r) => rank(r.got.level) < rank(r.want))
      .map((r) => `${r.want} got ${r.got.level}: ${JSON.stringify(r.command)} (${r.got.rule})`);
    expect(under).toEqual([]);
  });

  it("does not over-classify everyday commands: LOW and MEDIUM rows get exactly their level", () => {
    const everyday = rows.filter((r) => r.want === "LOW" || r.want === "MEDIUM");
    const over = everyday
      .map((r) => ({ ...r, got: engine.explain("run_shell", { command: r.command }) }))
      .filter((r) => rank(r.got.level) > rank(r.want))
      .map(
        (r) => `${r.want} got ${r.got.level}: ${JSON.stringify(r.command)} (${r.got.rule}: ${r.got.reason})`,
      );
    expect(everyday.length).toBeGreaterThan(150);
    expect(over).toEqual([]);
  });

  it("gives every decision a reason a person can read and the rule that matched", () => {
    for (const r of rows) {
      const e = engine.explain("run_shell", { command: r.command });
      expect(e.reason.length, r.command).toBeGreaterThan(10);
      expect(e.rule, r.command).toMatch(/^(shell|path|egress|policy|override):[a-z-]+/);
    }
  });
});
