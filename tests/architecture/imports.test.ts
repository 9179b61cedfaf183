import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => join(e.parentPath, e.name));
}

/** Every import/export-from in a file: its specifier and whether it is type-only. */
function importsOf(file: string): { spec: string; typeOnly: boolean; line: number }[] {
  const text = readFileSync(file, "utf8");
  const out: { spec: string; typeOnly: boolean; line: number }[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s+["']([^"']+)["']/gms;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const clause = m[3] ?? "";
    const allTypes =
      /^\{([^}]*)\}$/.test(clause.trim()) &&
      clause
        .replace(/[{}\s]/g, "")
        .split(",")
        .filter(Boolean)
        .every((n) => n.startsWith("type"));
    out.push({
      spec: m[4]!,
      typeOnly: Boolean(m[2]) || allTypes,
      line: text.slice(0, m.index).split("\n").length,
    });
  }
  for (const m of text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g))
    out.push({ spec: m[1]!, typeOnly: false, line: 0 });
  return out;
}

describe("architecture: which way imports run", () => {
  it("src/core imports no implementation: only types from other rooms, and only node: built-ins at runtime", () => {
    const violations: string[] = [];
    for (const file of filesUnder(join(SRC, "core"))) {
      for (const imp of importsOf(file)) {
        if (imp.typeOnly) continue;
        if (imp.spec.startsWith("node:")) continue;
        if (imp.spec.startsWith(".")) {
          const target = resolve(dirname(file), imp.spec);
          if (relative(join(SRC, "core"), target).startsWith("..")) {
            violations.push(`${relative(SRC, file)}:${imp.line} imports ${imp.spec} at runtime`);
          }
          continue;
        }
        violations.push(`${relative(SRC, file)}:${imp.line} imports package ${imp.spec} at runtime`);
      }
    }
    expect(violations).toEqual([]);
  });

  it("nothing inside the library imports from the outer ring (cli)", () => {
    const violations: string[] = [];
    for (const file of filesUnder(SRC)) {
      if (file.startsWith(join(SRC, "cli"))) continue;
      for (const imp of importsOf(file)) {
        if (imp.spec.startsWith(".") && resolve(dirname(file), imp.spec).startsWith(join(SRC, "cli"))) {
          violations.push(`${relative(SRC, file)} imports ${imp.spec}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it("implementation rooms never import core's loop", () => {
    const loop = ["session", "run-loop", "step", "model-call", "pipeline/"].map((f) => join(SRC, "core", f));
    const violations: string[] = [];
    for (const file of filesUnder(SRC)) {
      if (
        file.startsWith(join(SRC, "core")) ||
        file.startsWith(join(SRC, "cli")) ||
        file === join(SRC, "harness.ts") ||
        file === join(SRC, "index.ts")
      )
        continue;
      for (const imp of importsOf(file)) {
        if (!imp.spec.startsWith(".")) continue;
        const target = resolve(dirname(file), imp.spec).replace(/\.js$/, "");
        if (loop.some((l) => target === l || target.startsWith(l)))
          violations.push(`${relative(SRC, file)} imports ${imp.spec}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it("the check itself sees a runtime import (it can fail)", () => {
    const probe = importsOf(join(SRC, "harness.ts"));
    expect(probe.some((i) => !i.typeOnly && i.spec === "./core/session.js")).toBe(true);
    expect(probe.some((i) => i.typeOnly && i.spec === "./core/hooks.js")).toBe(true);
  });
});
