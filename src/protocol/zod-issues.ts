/**
 * One way to report validation issues: `limits.maxTurns: Too small: expected number to be >0`.
 * Structural on purpose: protocol/ imports no package at runtime, and zod's issues (and anyone
 * else's) fit `{ path, message }`.
 */
export interface ValidationIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** Keys printed bare; any other (a dot, a bracket, a quote, a space or control character, empty) is quoted. */
const PLAIN_KEY = /^[^\s.[\]"'\\\p{C}]+$/u;

/**
 * A path as a reader writes it: `limits.maxTurns`, `tool_calls[0].tool`, `overrides["acme:x"].input`.
 * A key holding a dot, bracket, quote, space or control character is quoted, so it cannot pass for
 * two levels or hide in the message.
 * The empty path is `root`.
 */
export function formatIssuePath(path: readonly PropertyKey[], root = "(root)"): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "symbol") out += `[${String(segment)}]`;
    else if (PLAIN_KEY.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out === "" ? root : out;
}

/**
 * Each issue as `path: message`. With `under`, paths are read below that name (`config` gives
 * `config.limits.maxTurns`, and `config` itself for the root); without it the root is `(root)`.
 */
export function formatIssues(
  issues: readonly ValidationIssue[],
  options: { readonly under?: string } = {},
): string[] {
  return issues.map((issue) => `${issuePath(issue.path, options.under)}: ${issue.message}`);
}

/** The path of one issue, below `under` when given (see {@link formatIssues}). */
export function issuePath(path: readonly PropertyKey[], under?: string): string {
  const own = formatIssuePath(path, "");
  if (under === undefined || under === "") return own === "" ? "(root)" : own;
  if (own === "") return under;
  return own.startsWith("[") ? `${under}${own}` : `${under}.${own}`;
}
