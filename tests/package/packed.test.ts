import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers.js";
import { type App, copyExamples, installApp, type Packed, packRein, ROOT, typecheck } from "./packed-app.js";

let packed: Packed;
/** The tarball, extracted: what an app's node_modules/rein holds. */
let unpacked = "";
beforeAll(() => {
  packed = packRein();
  unpacked = tempDir("rein-unpacked-");
  execFileSync("tar", ["xzf", packed.tarball, "-C", unpacked]);
  unpacked = join(unpacked, "package");
}, 300_000);

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/** The ```ts block under the README heading that starts with `heading`. */
function readmeBlock(readme: string, heading: string): string {
  const at = readme.indexOf(`\n## ${heading}`);
  if (at < 0) throw new Error(`README has no "## ${heading}" section`);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block) throw new Error(`README's "${heading}" section has no ts block`);
  return block[1]!;
}

describe("the packed tarball", () => {
  it("ships no install script: prepack hides the repository's prepare, and the build is in dist/", () => {
    const pkg = JSON.parse(readFileSync(join(unpacked, "package.json"), "utf8"));
    for (const script of ["preinstall", "install", "postinstall", "prepare"])
      expect(pkg.scripts?.[script], script).toBeUndefined();
    expect(packed.log).toContain("pack-manifest.mjs strip");
    expect(existsSync(join(unpacked, "dist/index.js"))).toBe(true);
    expect(existsSync(join(unpacked, "dist/index.d.ts"))).toBe(true);
    // The repository's own package.json keeps its prepare (npm ci in a clone builds and links).
    const repo = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(repo.scripts.prepare).toContain("npm run build");
  });

  it("takes zod as a peer (^3.25.76 || ^4), declares license, repository, homepage and bugs, and ships LICENSE and CHANGELOG", () => {
    const pkg = JSON.parse(readFileSync(join(unpacked, "package.json"), "utf8"));
    expect(pkg.dependencies.zod).toBeUndefined();
    expect(pkg.peerDependencies.zod).toBe("^3.25.76 || ^4.0.0");
    expect(pkg.license).toBe("Apache-2.0");
    expect(readFileSync(join(unpacked, "LICENSE"), "utf8")).toMatch(
      /^Apache License\s+Version 2\.0, January 2004/,
    );
    expect(readFileSync(join(unpacked, "CHANGELOG.md"), "utf8")).toMatch(
      /^# Changelog\n[\s\S]*## \[Unreleased\]/,
    );
    expect(pkg.repository.url).toMatch(/^git\+https:\/\//);
    expect(typeof pkg.homepage).toBe("string");
    expect(typeof pkg.bugs.url).toBe("string");
  });

  it("source maps carry their sources; no declaration map points at src/ (not shipped)", () => {
    const shipped = files(unpacked);
    expect(shipped.some((f) => f.startsWith("src/"))).toBe(false);
    expect(shipped.filter((f) => f.endsWith(".d.ts.map"))).toEqual([]);
    const maps = shipped.filter((f) => f.endsWith(".js.map"));
    expect(maps.length).toBeGreaterThan(50);
    for (const map of maps) {
      const m = JSON.parse(readFileSync(join(unpacked, map), "utf8")) as {
        sources: string[];
        sourcesContent?: string[];
      };
      expect(m.sourcesContent?.length, map).toBe(m.sources.length);
      expect(
        m.sourcesContent?.every((c) => typeof c === "string" && c.length > 0),
        map,
      ).toBe(true);
    }
  });

  it("every relative link of the README resolves to a file in the package", () => {
    const readme = readFileSync(join(unpacked, "README.md"), "utf8");
    const links = [...readme.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)]
      .map((m) => m[1]!)
      .filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(10);
    const missing = links.filter((l) => !existsSync(resolve(unpacked, l)));
    expect(missing).toEqual([]);
  });
});

describe.each([3, 4] as const)("an app on zod %i with only rein installed", (zod) => {
  let app: App;
  beforeAll(() => {
    app = installApp(packed, zod);
  }, 300_000);

  it("installs without running or warning about a script of Rein's", () => {
    expect(app.installLog).not.toMatch(/rein@[\d.]+ (prepare|install|postinstall|preinstall)/);
    expect(app.installLog).not.toMatch(/install-scripts[^\n]*rein@/);
    expect(existsSync(join(app.dir, "node_modules/@types/node"))).toBe(false);
  });

  it("compiles the README's smallest agent with tsc --strict, no @types/node, skipLibCheck off; and runs it", () => {
    const readme = readFileSync(join(app.dir, "node_modules/rein/README.md"), "utf8");
    const agent = readmeBlock(readme, "Use it in an app");
    const src = join(app.dir, "src");
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, "agent.ts"), agent);
    // A wrong field in a typed approval is a compile error in the app too.
    writeFileSync(
      join(src, "typed.ts"),
      [
        'import { createHarness, defineTool } from "rein";',
        'import { z } from "zod/v4";',
        "const pay = defineTool({",
        '  name: "pay", description: "Pays", input: z.object({ amountUsd: z.number() }),',
        '  execute: () => "paid",',
        "});",
        "createHarness({",
        '  model: "scripted:demo", tools: [pay],',
        "  approvals: {",
        '    gate: (req) => req.tool === "pay" && req.input.amountUsd < 10,',
        "  },",
        "  hooks: {",
        "    beforeToolCall(call) {",
        '      // @ts-expect-error "amount" is not a field of pay\'s input',
        '      if (call.tool === "pay" && call.input.amount > 5) return { deny: "too much" };',
        "      return undefined;",
        "    },",
        "  },",
        "});",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(app.dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          types: [],
          skipLibCheck: false,
          noEmit: true,
          allowImportingTsExtensions: true,
        },
        include: ["src"],
      }),
    );
    expect(typecheck(app.dir)).toBe("");
    const r = spawnSync(process.execPath, [join(src, "agent.ts")], {
      cwd: app.dir,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("completed: It is 21 °C in Lisbon.\n");
    // A library harness writes nothing to disk unless configured: no .rein/ appeared.
    expect(existsSync(join(app.dir, ".rein"))).toBe(false);
  }, 120_000);

  it("runs the README's zod examples from the installed package", () => {
    const examples = copyExamples(app);
    const custom = spawnSync(process.execPath, [join(examples, "custom-tool.ts")], {
      cwd: app.dir,
      encoding: "utf8",
    });
    expect(custom.stderr).toBe("");
    expect(custom.stdout).toContain("completed: I sent one bad request; Lisbon is 21 °C.");
    const redaction = spawnSync(process.execPath, [join(examples, "redaction.ts")], {
      cwd: app.dir,
      encoding: "utf8",
    });
    expect(redaction.status).toBe(0);
    expect(redaction.stdout).toContain("flagged secret: aws_access_key");
  }, 120_000);

  it(`defineTool ${zod === 3 ? "refuses a zod 3 schema and says to import zod/v4" : 'takes schemas from both "zod" and "zod/v4"'}`, () => {
    const file = join(app.dir, "src", "schemas.mjs");
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(
      file,
      [
        'import { defineTool } from "rein";',
        'import * as classic from "zod";',
        'import * as v4 from "zod/v4";',
        'const tool = (z) => { try { return defineTool({ name: "t", description: "d", input: z.z.object({ a: z.z.string() }), execute: () => 1 }).inputSchema.type; } catch (e) { return e.code + ": " + e.message; } };',
        "console.log(tool(classic));",
        "console.log(tool(v4));",
      ].join("\n"),
    );
    const r = spawnSync(process.execPath, [file], { cwd: app.dir, encoding: "utf8" });
    expect(r.stderr).toBe("");
    const [fromClassic, fromV4] = r.stdout.trim().split("\n");
    expect(fromV4).toBe("object");
    if (zod === 3)
      expect(fromClassic).toBe(
        'REIN_TOOL_DEFINITION_INVALID: Tool "t": input is a zod 3 schema; Rein reads zod 4 schemas. Import z from "zod/v4" (zod 3.25 and later ship it) or upgrade to zod 4.',
      );
    else expect(fromClassic).toBe("object");
  });

  it("the installed bin runs: rein --version and rein demo --json (bubblewrap)", () => {
    const bin = join(app.dir, "node_modules/.bin/rein");
    const v = spawnSync(bin, ["--version"], { cwd: app.dir, encoding: "utf8" });
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version);
    const demo = spawnSync(process.execPath, [bin, "demo", "--json", "--no-audit"], {
      cwd: app.dir,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(demo.stderr).toBe("");
    expect(demo.status).toBe(0);
    expect(
      demo.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).type)
        .at(-1),
    ).toBe("session_ended");
  }, 150_000);
});
