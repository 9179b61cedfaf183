import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const FIXTURES = join(ROOT, "tests/fixtures/types");
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");

function tsc(project: string): string {
  try {
    execFileSync(process.execPath, [TSC, "-p", project], { encoding: "utf8" });
    return "";
  } catch (err) {
    return (err as { stdout?: string }).stdout ?? String(err);
  }
}

describe("typed approvals and hooks (compiled with tsc --strict)", () => {
  it("a gate's request and beforeToolCall's call are typed by the tool's schema; wrong fields do not compile", () => {
    // Each @ts-expect-error in the fixture must be an error (tsc reports an unused one), and the rest compiles.
    expect(tsc(FIXTURES)).toBe("");
    // The same file without the directives: the wrong fields are the errors, named by tsc.
    const source = readFileSync(join(FIXTURES, "typed-approvals.ts"), "utf8");
    const bare = join(FIXTURES, "typed-approvals.bare.ts");
    writeFileSync(bare, source.replaceAll(/^\s*\/\/ @ts-expect-error.*$/gm, ""));
    const config = join(FIXTURES, "tsconfig.bare.json");
    writeFileSync(config, JSON.stringify({ extends: "./tsconfig.json", files: ["typed-approvals.bare.ts"] }));
    let out: string;
    try {
      out = tsc(config);
    } finally {
      rmSync(bare);
      rmSync(config);
    }
    const errors = out.split("\n").filter((l) => l.includes("error TS"));
    expect(errors.some((e) => /Property 'city' does not exist/.test(e))).toBe(true);
    expect(errors.some((e) => /Property 'amount' does not exist/.test(e))).toBe(true);
    expect(errors.some((e) => /Type 'string' is not assignable to type 'number'/.test(e))).toBe(true);
    expect(errors.filter((e) => /Property 'town' does not exist/.test(e))).toHaveLength(2);
    expect(errors).toHaveLength(5);
  }, 120_000);
});
