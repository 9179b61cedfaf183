// `npm pack` / `npm publish` run `prepack`, then read package.json again: here `prepare` (the
// repository's own set-up after `npm ci`: build, bin link, re2 for Node 24) is renamed while the
// tarball is made, so an app installing Rein sees no install script (npm 11 warns about a
// dependency's `prepare`, and it has nothing to build: dist/ is in the tarball). `postpack` puts it
// back. `strip` builds first (dist/ is what the tarball ships), unless REIN_PACK_SKIP_BUILD=1 (the
// tarball test packs the dist/ that `npm test` has just built). Usage: node scripts/pack-manifest.mjs strip|restore
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const file = join(dirname(fileURLToPath(import.meta.url)), "..", "package.json");
const text = readFileSync(file, "utf8");
const pkg = JSON.parse(text);
const mode = process.argv[2];
if (mode === "strip" && process.env.REIN_PACK_SKIP_BUILD !== "1")
  execFileSync("npm", ["run", "build"], { cwd: dirname(file), stdio: "inherit" });
const scripts = pkg.scripts ?? {};
if (mode === "strip" && scripts.prepare !== undefined) {
  pkg.scripts = rename(scripts, "prepare", "repo:prepare");
} else if (mode === "restore" && scripts["repo:prepare"] !== undefined) {
  pkg.scripts = rename(scripts, "repo:prepare", "prepare");
} else if (mode !== "strip" && mode !== "restore") {
  process.stderr.write("usage: node scripts/pack-manifest.mjs strip|restore\n");
  process.exit(2);
}
writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);

/** Renames one key in place, keeping the order of the others (the diff stays empty after restore). */
function rename(object, from, to) {
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k === from ? to : k, v]));
}
