#!/usr/bin/env node
// Plain JavaScript that any Node parses, so an old Node gets a clear message instead of a syntax error.
import { existsSync, readFileSync } from "node:fs";
import module from "node:module";

const REQUIRED_MAJOR = 22;
const root = new URL("../", import.meta.url);
const major = Number(process.versions.node.split(".")[0]);
if (!(major >= REQUIRED_MAJOR)) {
  // Inside Rein's own repository npm brings Node 24 (the `node` devDependency); an app that depends
  // on Rein has no such Node, and its user needs a newer Node on PATH.
  const inRepository =
    existsSync(new URL("src/index.ts", root)) && existsSync(new URL("node_modules/.bin/node", root));
  process.stderr.write(
    `rein: Node.js >= ${REQUIRED_MAJOR} is required (Rein is developed and tested on Node 24 LTS); this is Node ${process.versions.node}.\n` +
      (inRepository
        ? "rein: inside the repository, run it through npm (npx rein, npm run demo): the project brings its own Node 24 in node_modules/.bin/node.\n"
        : `rein: install Node.js ${REQUIRED_MAJOR} or newer (24 LTS recommended; e.g. \`nvm install 24\`, or https://nodejs.org), then run rein again.\n`) +
      "rein: error code REIN_NODE_VERSION\n",
  );
  process.exit(1);
}
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
  // The commonest question, answered without loading the CLI.
  process.stdout.write(`${JSON.parse(readFileSync(new URL("package.json", root), "utf8")).version}\n`);
} else {
  // Node >= 22.1 caches the compiled CLI modules (in the OS temp dir): about halves `rein --help`.
  module.enableCompileCache?.();
  import("../dist/cli/main.js").then(
    (cli) => cli.main(argv),
    (err) => {
      process.stderr.write(
        `rein: cannot load the CLI (${err?.message}). Did the build run? Try: npm run build\n`,
      );
      process.exit(1);
    },
  );
}
