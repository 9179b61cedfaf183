/**
 * Rein as an app gets it: `npm pack` of this checkout (through the package's own prepack, on the
 * dist/ that `npm test` has just built), installed with npm into a fresh temporary app beside a zod of
 * the major asked for. Tests compile that app and run the README's examples there, not from the repo.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tempDir } from "../helpers.js";

export const ROOT = resolve(import.meta.dirname, "../..");

/** The files package.json ships, and what packing needs: package.json and the prepack script. */
const STAGED = [
  "package.json",
  "scripts/pack-manifest.mjs",
  "dist",
  "bin",
  "assets",
  "docs",
  "prometheus",
  "examples",
];
const STAGED_FILES = ["README.md", "CHANGELOG.md", "LICENSE"];

function npm(args: string[], cwd: string, env: Record<string, string> = {}): string {
  const r = spawnSync("npm", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, npm_config_update_notifier: "false", npm_config_fund: "false", ...env },
    timeout: 300_000,
  });
  if (r.status !== 0)
    throw new Error(`npm ${args.join(" ")} failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  return `${r.stdout}${r.stderr}`;
}

export interface Packed {
  readonly tarball: string;
  /** npm pack's output, scripts included (prepack, postpack). */
  readonly log: string;
}

/** Packs a copy of the checkout (so the repository's package.json is never rewritten under other tests). */
export function packRein(): Packed {
  const stage = tempDir("rein-stage-");
  for (const item of [...STAGED, ...STAGED_FILES]) {
    const from = join(ROOT, item);
    if (!existsSync(from)) throw new Error(`${item} is missing: run npm run build first`);
    mkdirSync(resolve(stage, item, ".."), { recursive: true });
    cpSync(from, join(stage, item), { recursive: true });
  }
  const out = tempDir("rein-pack-");
  const log = npm(["pack", "--foreground-scripts", "--pack-destination", out], stage, {
    REIN_PACK_SKIP_BUILD: "1",
  });
  const tarball = readdirSync(out).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error(`npm pack made no tarball:\n${log}`);
  return { tarball: join(out, tarball), log };
}

export interface App {
  readonly dir: string;
  /** npm install's output (warnings included). */
  readonly installLog: string;
}

/**
 * A fresh app with only `rein` (from the tarball) and `zod@<major>` installed. Optional dependencies
 * (the native re2 addon) are left out to keep it fast; Rein then uses re2js, as it does wherever re2
 * does not build.
 */
export function installApp(packed: Packed, zodMajor: 3 | 4): App {
  const dir = tempDir(`rein-app-zod${zodMajor}-`);
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: `app-zod${zodMajor}`, private: true, type: "module" }, null, 2)}\n`,
  );
  const installLog = npm(
    [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--omit=optional",
      "--foreground-scripts",
      packed.tarball,
      `zod@${zodMajor === 3 ? "^3.25.76" : "^4"}`,
    ],
    dir,
  );
  // An app "with only rein": a dependency's @types/node would hide a Node type leaking from Rein's .d.ts.
  rmSync(join(dir, "node_modules/@types/node"), { recursive: true, force: true });
  return { dir, installLog };
}

/** The README's examples, copied out of the installed package (Node strips types only outside node_modules). */
export function copyExamples(app: App): string {
  const to = join(app.dir, "examples");
  cpSync(join(app.dir, "node_modules/rein/examples"), to, { recursive: true });
  return to;
}

/** tsc of the repository's TypeScript, run on the app's own tsconfig: its diagnostics, "" when clean. */
export function typecheck(dir: string): string {
  try {
    execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", dir], {
      encoding: "utf8",
    });
    return "";
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ""}${e.stderr ?? ""}` || String(err);
  }
}
