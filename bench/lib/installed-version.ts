import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Reads an installed package's own package.json, so a benchmark label states the real version. */
export function installedVersion(pkg: string): string | undefined {
  try {
    let dir = dirname(fileURLToPath(import.meta.resolve(pkg)));
    for (;;) {
      try {
        const json = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
          name?: string;
          version?: string;
        };
        if (json.name === pkg) return json.version;
      } catch {
        // no package.json here; keep walking up
      }
      const parent = dirname(dir);
      if (parent === dir) return undefined;
      dir = parent;
    }
  } catch {
    return undefined;
  }
}
