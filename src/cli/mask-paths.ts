import { sensitiveMaskPatterns } from "../policy/sensitive-paths.js";
import { DEFAULT_MASK_PATHS } from "../sandbox/bubblewrap/masks.js";

/**
 * What the CLI's sandboxes hide from commands: the sandbox's own defaults and every path the policy
 * treats as sensitive, so a file denied to `read_file` is not readable with `cat` either, even when
 * the shell analysis misjudged the command.
 */
export function cliMaskPaths(): string[] {
  return [...new Set([...DEFAULT_MASK_PATHS, ...sensitiveMaskPatterns()])];
}
