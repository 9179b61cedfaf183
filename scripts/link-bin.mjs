// npm links the bins of dependencies into node_modules/.bin, but not the project's own. Link `rein`
// there too, so `node_modules/.bin/rein` works in a checkout as it does in a project that depends on Rein.
import { lstatSync, mkdirSync, symlinkSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const link = join(root, "node_modules", ".bin", "rein");
mkdirSync(dirname(link), { recursive: true });
try {
  if (lstatSync(link).isSymbolicLink()) unlinkSync(link);
} catch {}
symlinkSync("../../bin/rein.js", link);
