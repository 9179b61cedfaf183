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

const ROOMS = [
  "approvals",
  "config",
  "guards",
  "models",
  "policy",
  "sandbox",
  "security",
  "state",
  "telemetry",
  "tools",
];

/** The room (first folder under src/) a file or import target is in; "" for src/*.ts. */
function roomOf(path: string): string {
  const rel = relative(SRC, path);
  return rel.includes("/") ? rel.slice(0, rel.indexOf("/")) : "";
}

/** Runtime and type imports that leave `file`'s room for one of `forbidden` (relative specifiers only). */
function crossings(
  file: string,
  allowed: (room: string, typeOnly: boolean, spec: string) => boolean,
): string[] {
  const out: string[] = [];
  for (const imp of importsOf(file)) {
    if (imp.spec.startsWith("node:")) continue;
    const room = imp.spec.startsWith(".") ? roomOf(resolve(dirname(file), imp.spec)) : `package:${imp.spec}`;
    if (!allowed(room, imp.typeOnly, imp.spec))
      out.push(`${relative(SRC, file)}:${imp.line} imports ${imp.spec}${imp.typeOnly ? " (type)" : ""}`);
  }
  return out;
}

function check(
  rooms: readonly string[],
  allowed: (room: string, typeOnly: boolean, spec: string) => boolean,
): string[] {
  return rooms.flatMap((r) => filesUnder(join(SRC, r)).flatMap((f) => crossings(f, allowed)));
}

describe("architecture: which way imports run (checked per folder)", () => {
  it("src/protocol (the shared vocabulary) imports nothing but itself and node: built-ins", () => {
    expect(check(["protocol"], (room) => room === "protocol")).toEqual([]);
  });

  it("src/core (the loop) imports at runtime only core, protocol and node: built-ins; other rooms only as types", () => {
    expect(
      check(
        ["core"],
        (room, typeOnly) => room === "core" || room === "protocol" || (typeOnly && ROOMS.includes(room)),
      ),
    ).toEqual([]);
  });

  it("implementation rooms never import src/core, the outer ring or the composition root", () => {
    expect(
      check(ROOMS, (room) => room === "protocol" || ROOMS.includes(room) || room.startsWith("package:")),
    ).toEqual([]);
  });

  it("src/evals (outer ring) uses protocol, the rooms' public pieces, packages and the public harness; never core or cli", () => {
    expect(
      check(
        ["evals"],
        (room, _typeOnly, spec) =>
          room === "evals" ||
          room === "protocol" ||
          ROOMS.includes(room) ||
          room.startsWith("package:") ||
          (room === "" && spec.endsWith("/harness.js")),
      ),
    ).toEqual([]);
  });

  it("nothing inside the library imports from the outer ring (cli)", () => {
    const violations: string[] = [];
    for (const file of filesUnder(SRC)) {
      if (roomOf(file) === "cli") continue;
      violations.push(...crossings(file, (room) => room !== "cli"));
    }
    expect(violations).toEqual([]);
  });

  it("src/testing (contract suites) imports protocol, the rooms and packages; never core, cli or harness.ts", () => {
    expect(
      check(
        ["testing"],
        (room) =>
          room === "testing" || room === "protocol" || ROOMS.includes(room) || room.startsWith("package:"),
      ),
    ).toEqual([]);
  });

  it("the library never imports rein/testing or vitest (only src/testing.ts and src/testing/ do)", () => {
    const violations: string[] = [];
    for (const file of filesUnder(SRC)) {
      const rel = relative(SRC, file);
      if (rel === "testing.ts" || roomOf(file) === "testing") continue;
      violations.push(
        ...crossings(
          file,
          (room, _typeOnly, spec) => room !== "testing" && spec !== "vitest" && !spec.endsWith("/testing.js"),
        ),
      );
    }
    expect(violations).toEqual([]);
  });

  it("the check itself sees a violation (it can fail)", () => {
    const probe = importsOf(join(SRC, "harness.ts"));
    expect(probe.some((i) => !i.typeOnly && i.spec === "./core/session.js")).toBe(true);
    // harness.ts imports core at runtime: as if it were an implementation room, the rule flags it.
    const flagged = crossings(join(SRC, "harness.ts"), (room) => room === "protocol" || ROOMS.includes(room));
    expect(flagged.some((v) => v.includes("./core/session.js"))).toBe(true);
    expect(roomOf(join(SRC, "core", "pipeline", "approve.ts"))).toBe("core");
  });
});

describe("zod through zod/v4 only", () => {
  it('no source file imports "zod": apps on zod 3 (which ships zod/v4) and zod 4 get the same types', () => {
    const bare = filesUnder(SRC).flatMap((f) =>
      importsOf(f)
        .filter((i) => i.spec === "zod")
        .map((i) => `${relative(SRC, f)}:${i.line}`),
    );
    expect(bare).toEqual([]);
  });
});
