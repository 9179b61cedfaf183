import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const FIXTURE = join(ROOT, "tests/fixtures/public-api.json");

/**
 * Every name each entry point's declarations export, with what it is (a value, a type, or both),
 * read by the TypeScript checker from the built dist/*.d.ts, as an app's compiler sees them.
 */
function surface(): Record<string, Record<string, string>> {
  const entries = { rein: "dist/index.d.ts", "rein/testing": "dist/testing.d.ts" };
  const program = ts.createProgram(
    Object.values(entries).map((f) => join(ROOT, f)),
    {
      strict: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      noEmit: true,
    },
  );
  const checker = program.getTypeChecker();
  const out: Record<string, Record<string, string>> = {};
  for (const [entry, file] of Object.entries(entries)) {
    const source = program.getSourceFile(join(ROOT, file))!;
    const symbol = checker.getSymbolAtLocation(source)!;
    const names: Record<string, string> = {};
    for (const exported of checker.getExportsOfModule(symbol)) {
      const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      // `export { type X }` exports only the type, even of a class.
      const decl = exported.declarations?.[0];
      const typeOnly =
        decl !== undefined &&
        ts.isExportSpecifier(decl) &&
        (decl.isTypeOnly || decl.parent.parent.isTypeOnly);
      const value = !typeOnly && (target.flags & ts.SymbolFlags.Value) !== 0;
      const type = (target.flags & ts.SymbolFlags.Type) !== 0;
      names[exported.name] = value && type ? "value+type" : value ? "value" : "type";
    }
    out[entry] = Object.fromEntries(Object.entries(names).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return out;
}

describe("the public API surface", () => {
  it("is exactly the names in tests/fixtures/public-api.json (a change is a visible diff: REIN_UPDATE_API=1 rewrites it)", () => {
    const actual = surface();
    if (process.env.REIN_UPDATE_API === "1") writeFileSync(FIXTURE, `${JSON.stringify(actual, null, 2)}\n`);
    const expected = JSON.parse(readFileSync(FIXTURE, "utf8"));
    expect(actual).toEqual(expected);
  }, 120_000);

  it("the runtime exports of rein and rein/testing are the declared values", async () => {
    const declared = JSON.parse(readFileSync(FIXTURE, "utf8")) as Record<string, Record<string, string>>;
    for (const [entry, file] of [
      ["rein", "dist/index.js"],
      ["rein/testing", "dist/testing.js"],
    ] as const) {
      const runtime = Object.keys(await import(join(ROOT, file))).sort();
      const values = Object.entries(declared[entry]!)
        .filter(([, kind]) => kind !== "type")
        .map(([name]) => name)
        .sort();
      expect(runtime, entry).toEqual(values);
    }
  });
});
