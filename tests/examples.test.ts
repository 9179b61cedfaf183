import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");

function example(name: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [resolve(ROOT, "examples", name)], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("examples run as documented", () => {
  it("quickstart", () => {
    const r = example("quickstart.ts");
    expect(r.err).toBe("");
    expect(r.out).toBe("completed after 2 turns: Your notes say: buy milk.\n");
  });

  it("custom-tool", () => {
    const r = example("custom-tool.ts");
    expect(r.code).toBe(0);
    expect(r.out).toContain('get_weather: ok {"city":"Lisbon","celsius":21}');
    expect(r.out).toContain(
      'get_weather: not_found {"error":{"type":"not_found","message":"No weather station in Atlantis"}}',
    );
    expect(r.out).toContain("get_weather: invalid_input");
    expect(r.out).toContain("completed: I sent one bad request; Lisbon is 21 °C.");
  });

  it("approvals", () => {
    const r = example("approvals.ts");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^One deletion was refused; I left that file alone\.\naudit trail: .*\.jsonl\n$/);
  });
});
