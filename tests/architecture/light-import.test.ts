import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");

/**
 * Runs `code` in a fresh Node (the project's own, running this test) after installing a module
 * load hook that records every package loaded from a node_modules folder, by ESM import or
 * require. Prints the sorted package names as JSON.
 */
function packagesLoadedBy(code: string): string[] {
  const probe = `
    const { registerHooks } = require("node:module");
    const seen = new Set();
    registerHooks({
      load(url, context, next) {
        const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(url);
        if (m) seen.add(m[1]);
        return next(url, context);
      },
    });
    (async () => { ${code} })().then(
      () => process.stdout.write(JSON.stringify([...seen].sort())),
      (err) => { console.error(err); process.exit(1); },
    );
  `;
  const r = spawnSync(process.execPath, ["-e", probe], { cwd: ROOT, encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as string[];
}

describe('import "rein" stays light', () => {
  it("loads no package but zod", () => {
    // zod: defineTool's schemas and the harness configuration are zod at the API surface, so it
    // loads with the root. Not yaml (only YAML scripts need it), not commander (the CLI's), not
    // vitest (rein/testing's optional peer).
    expect(packagesLoadedBy(`await import(${JSON.stringify(join(ROOT, "dist/index.js"))});`)).toEqual([
      "zod",
    ]);
  });

  it("the probe sees what a feature loads: yaml once a YAML script is read, vitest with rein/testing", () => {
    const file = join(tempDir(), "s.yaml");
    writeFileSync(file, "turns:\n  - say: hi\n");
    const rein = JSON.stringify(join(ROOT, "dist/index.js"));
    expect(
      packagesLoadedBy(
        `const { scriptedModel } = await import(${rein}); scriptedModel(${JSON.stringify(file)});`,
      ),
    ).toEqual(["yaml", "zod"]);
    // Resolved through the package's own exports map, as a user's import would be.
    expect(packagesLoadedBy(`await import("rein/testing");`)).toContain("vitest");
  });

  it("tracing, metrics and logs load the OpenTelemetry SDK, prom-client and pino only when created", () => {
    const rein = JSON.stringify(join(ROOT, "dist/observability.js"));
    const loaded = packagesLoadedBy(
      `const r = await import(${rein}); const t = await r.createTracing(); await r.createMetrics(); await r.createLogger({ destination: { write() {} } }); await t.shutdown();`,
    );
    for (const p of [
      "@opentelemetry/sdk-trace-base",
      "@opentelemetry/exporter-trace-otlp-http",
      "@opentelemetry/api",
      "prom-client",
      "pino",
    ])
      expect(loaded).toContain(p);
  });

  it("vitest, which rein/testing imports, is an optional peer dependency, not a dependency", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.dependencies.vitest).toBeUndefined();
    expect(pkg.peerDependencies.vitest).toBeDefined();
    expect(pkg.peerDependenciesMeta.vitest).toEqual({ optional: true });
  });
});
