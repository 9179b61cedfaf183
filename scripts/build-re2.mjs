// Makes the native `re2` addon (Rein's fast linear-time regex engine) load in the Node that runs
// Rein. `npm ci` builds it against whatever headers node-gyp finds; on a machine whose npm config
// points `nodedir` at an older system Node, or without access to nodejs.org, that build is for the
// wrong Node (or fails, and the optional dependency is dropped). Here, if the addon does not load,
// the headers of this exact Node are fetched from the npm registry (node-<platform>-<arch>) and the
// addon is rebuilt against them. Best effort: on any failure Rein uses `re2js` (also linear-time,
// slower) and this script still exits 0. REIN_SKIP_RE2_BUILD=1 skips it.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const re2Dir = join(root, "node_modules", "re2");
const say = (m) => process.stderr.write(`build-re2: ${m}\n`);

function loads() {
  const r = spawnSync(process.execPath, ["-e", "require('re2')"], { cwd: root, encoding: "utf8" });
  return r.status === 0;
}

function main() {
  if (process.env.REIN_SKIP_RE2_BUILD === "1") return say("skipped (REIN_SKIP_RE2_BUILD=1)");
  if (Number(process.versions.node.split(".")[0]) < 22)
    return say(`node ${process.version} is not the project's Node; run through npm (npm rebuild, npm ci)`);
  if (!existsSync(re2Dir)) {
    // npm skips an optional dependency whose `engines` do not match the Node npm itself runs on
    // (an older system Node), or drops it when its build failed: fetch its files, build below.
    const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).optionalDependencies.re2;
    say(`re2 is not installed; fetching re2@${version} without running its install script`);
    const r = spawnSync(
      "npm",
      ["install", "--no-save", "--ignore-scripts", "--force", "--no-audit", "--no-fund", `re2@${version}`],
      { cwd: root, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" },
    );
    if (r.status !== 0 || !existsSync(re2Dir))
      return say(`could not fetch re2; Rein will use re2js.\n${(r.stderr ?? "").slice(-1000)}`);
  }
  if (loads()) return say(`re2 loads in node ${process.version}`);
  const pkg = `node-${process.platform}-${process.arch}@${process.versions.node}`;
  const cache = join(root, "node_modules", ".cache", "rein-node-headers", process.versions.node);
  const nodedir = join(cache, "package");
  if (!existsSync(join(nodedir, "include", "node", "node_version.h"))) {
    say(`fetching the headers of node ${process.version} (${pkg}) from the npm registry`);
    mkdirSync(cache, { recursive: true });
    const tgz = execFileSync("npm", ["pack", pkg, "--silent", "--pack-destination", cache], {
      cwd: cache,
      encoding: "utf8",
    })
      .trim()
      .split("\n")
      .at(-1);
    execFileSync("tar", ["xzf", join(cache, tgz), "-C", cache, "package/include"]);
  }
  say(`rebuilding re2 against node ${process.version} (a few minutes)`);
  const gyp = join(root, "node_modules", "node-gyp", "bin", "node-gyp.js");
  const r = spawnSync(process.execPath, [gyp, "rebuild", "-j", "max", `--nodedir=${nodedir}`], {
    cwd: re2Dir,
    // npm passes its own `nodedir` config as npm_config_nodedir, which node-gyp prefers to the flag.
    env: { ...process.env, npm_config_nodedir: nodedir },
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  if (r.status !== 0) return say(`rebuild failed; Rein will use re2js.\n${(r.stderr ?? "").slice(-2000)}`);
  say(loads() ? "re2 rebuilt and loads" : "re2 rebuilt but still does not load; Rein will use re2js");
}

try {
  main();
} catch (err) {
  say(`${err?.message ?? err}; Rein will use re2js`);
}
