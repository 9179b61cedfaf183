import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * The compiled file of a script that runs outside this module graph (a worker thread, or a child in
 * bubblewrap): `dist/…/name.js` beside the caller. When the caller is the TypeScript source (tests run
 * `src/` through vitest), the compiled twin under `dist/` is used, so `npm run build` must have run.
 */
export function compiledScript(callerUrl: string, name: string): string {
  const here = fileURLToPath(new URL(`./${name}.js`, callerUrl));
  if (existsSync(here)) return here;
  const at = here.lastIndexOf("/src/");
  const dist = at < 0 ? here : `${here.slice(0, at)}/dist/${here.slice(at + 5)}`;
  if (dist !== here && existsSync(dist)) return dist;
  throw new Error(`${name}.js is missing beside ${fileURLToPath(callerUrl)} (run npm run build).`);
}
