#!/usr/bin/env node
// Plain JavaScript that any Node parses, so an old Node gets a clear message instead of a syntax error.
const REQUIRED_MAJOR = 22;
const major = Number(process.versions.node.split(".")[0]);
if (!(major >= REQUIRED_MAJOR)) {
  process.stderr.write(
    `rein: Node.js >= ${REQUIRED_MAJOR} is required (Rein is developed and tested on Node 24 LTS); this is Node ${process.versions.node}.\n` +
      "rein: inside the repository, run it through npm (npx rein, npm run demo): the project brings its own Node 24 in node_modules/.bin/node.\n" +
      "rein: error code REIN_NODE_VERSION\n",
  );
  process.exit(1);
}
import("../dist/cli/main.js").then(
  (cli) => cli.main(process.argv.slice(2)),
  (err) => {
    process.stderr.write(
      `rein: cannot load the CLI (${err?.message}). Did the build run? Try: npm run build\n`,
    );
    process.exit(1);
  },
);
