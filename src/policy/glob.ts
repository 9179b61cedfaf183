import { createRequire } from "node:module";
import type picomatchType from "picomatch";

let picomatch: typeof picomatchType | undefined;

/**
 * A compiled glob matcher (picomatch, bash-style globs). picomatch is loaded on first use, so
 * `import "rein"` does not pay for it; the engine compiles its globs once, when it is built.
 */
export function globMatcher(
  glob: string | readonly string[],
  options: { dot: boolean },
): (path: string) => boolean {
  picomatch ??= createRequire(import.meta.url)("picomatch") as typeof picomatchType;
  return picomatch(glob as string | string[], options);
}
