/** What Rein knows about git: read-only subcommands, reversible writes, history rewrites, config that runs programs. */

import type { CommandHandler } from "../command-catalog.js";
import { type CommandContext, flags, optionValues, words, wordValue } from "../command-context.js";

export const GIT_READ = new Set(
  words(
    "status log diff show blame ls-files ls-tree ls-remote rev-parse rev-list describe shortlog grep cat-file whatchanged help version merge-base name-rev show-ref for-each-ref check-ignore count-objects fsck var diff-tree diff-files diff-index",
  ),
);

export const GIT_WRITE = new Set(
  words(
    "add commit checkout switch merge rebase pull fetch clone init cherry-pick revert mv rm am apply bisect submodule restore notes worktree archive format-patch sparse-checkout maintenance lfs",
  ),
);

/** `git -c key=value` keys that make git run a program. */
export const GIT_EXEC_KEYS =
  /^(core\.(pager|sshcommand|hookspath|fsmonitor|editor|askpass|gitproxy)|alias\.|diff\..*\.(textconv|command)|filter\.|merge\..*\.driver|credential\.helper|sequence\.editor|gpg\.program|uploadpack\.packobjectshook|protocol\.ext\.allow|url\.)/i;

/** The program a git setting runs (`core.pager=…`, `alias.x=!…`), judged as a nested script. */
export function gitProgram(c: CommandContext, key: string, value: string): void {
  if (/^alias\./i.test(key)) {
    if (value.startsWith("!")) c.script(value.slice(1), `git alias ${key}`);
  } else if (
    /pager|sshcommand|editor|askpass|fsmonitor|textconv|command|driver|helper|program/i.test(key) &&
    value !== ""
  ) {
    c.script(value, `git ${key}`);
  }
}

export const git: CommandHandler = (c) => {
  const args = c.args;
  let i = 0;
  for (; i < args.length; i++) {
    const v = args[i]?.value;
    if (v === null || v === undefined) {
      c.add("HIGH", "git with an argument resolved at run time", "shell:dynamic-argument");
      return;
    }
    if (v === "-c") {
      const kv = wordValue(args[++i]);
      if (kv === null || GIT_EXEC_KEYS.test(kv)) {
        c.add("HIGH", `git -c ${kv ?? "(run-time value)"} makes git run a program`, "shell:git-config-exec");
        if (kv !== null) gitProgram(c, kv.slice(0, kv.indexOf("=") >>> 0), kv.slice(kv.indexOf("=") + 1));
      }
    } else if (v === "-C" || v === "--git-dir" || v === "--work-tree" || v === "--namespace") {
      const dir = args[++i];
      if (dir) c.touch(dir, "read");
    } else if (v.startsWith("--git-dir=") || v.startsWith("--work-tree=") || v.startsWith("--exec-path")) {
      if (v.startsWith("--exec-path="))
        c.add("HIGH", "git --exec-path runs programs from another place", "shell:git-config-exec");
    } else if (v.startsWith("-")) {
      if (["--version", "--help"].includes(v))
        return c.add("LOW", "git prints its version or help", "shell:version:git");
    } else break;
  }
  const sub = wordValue(args[i]);
  const rest = args.slice(i + 1);
  const f = flags(rest);
  const values = rest.map((a) => a.value ?? "");
  if (sub === null) return c.add("LOW", "git with no subcommand prints help", "shell:version:git");
  if (sub === "push") {
    if (
      f.has("f") ||
      f.has("--force") ||
      f.has("--force-with-lease") ||
      f.has("--force-if-includes") ||
      values.some((v) => /^\+/.test(v))
    )
      return c.add("HIGH", "git push --force rewrites the remote's history", "shell:git-force-push");
    if (
      f.has("d") ||
      f.has("--delete") ||
      f.has("--mirror") ||
      f.has("--prune") ||
      values.some((v) => /^:/.test(v))
    )
      return c.add("HIGH", "git push deletes remote branches", "shell:git-remote-delete");
    return c.add("MEDIUM", "git push publishes commits", "shell:git-write");
  }
  if (sub === "reset" && f.has("--hard"))
    return c.add("HIGH", "git reset --hard discards uncommitted work", "shell:git-discard");
  if (sub === "clean" && (f.has("f") || f.has("--force")))
    return c.add("HIGH", "git clean -f deletes untracked files", "shell:git-discard");
  if (sub === "checkout" && (f.has("f") || f.has("--force") || values.includes(".")))
    return c.add("HIGH", "git checkout discards uncommitted changes", "shell:git-discard");
  if (sub === "restore" && !f.has("--staged") && !f.has("S"))
    return c.add("HIGH", "git restore discards uncommitted changes", "shell:git-discard");
  if (
    sub === "branch" &&
    (f.has("D") || (f.has("d") && f.has("f")) || (f.has("--delete") && f.has("--force")))
  )
    return c.add("HIGH", "git branch -D deletes an unmerged branch", "shell:git-discard");
  if (sub === "stash" && ["drop", "clear"].includes(values[0] ?? ""))
    return c.add("HIGH", `git stash ${values[0]} deletes stashed work`, "shell:git-discard");
  if (
    ["filter-branch", "filter-repo", "update-ref", "replace"].includes(sub) ||
    (sub === "reflog" && values[0] === "expire") ||
    (sub === "gc" && values.some((v) => v.startsWith("--prune")))
  )
    return c.add("HIGH", `git ${sub} rewrites or drops history`, "shell:git-discard");
  if (sub === "config") {
    const key = values.find((v) => !v.startsWith("-")) ?? "";
    const reading =
      f.has("--get") ||
      f.has("--list") ||
      f.has("l") ||
      f.has("--get-all") ||
      f.has("--get-regexp") ||
      values.filter((v) => !v.startsWith("-")).length <= 1;
    if (reading) return c.add("LOW", "git config reads configuration", "shell:read-only:git");
    if (GIT_EXEC_KEYS.test(key))
      return c.add(
        "HIGH",
        `git config ${key} makes git run a program later (persistence)`,
        "shell:git-config-exec",
      );
    if (f.has("--global") || f.has("--system"))
      return c.add("HIGH", "git config --global changes the user's configuration", "shell:persistence");
    return c.add("MEDIUM", "git config changes the repository's configuration", "shell:git-write");
  }
  if (sub === "branch" || sub === "tag" || sub === "remote" || sub === "stash" || sub === "reflog") {
    const listing =
      sub === "stash"
        ? ["list", "show"].includes(values[0] ?? "")
        : values.every((v) => v.startsWith("-")) ||
          ["list", "show", "-v", "get-url"].includes(values[0] ?? "");
    return listing
      ? c.add("LOW", `git ${sub} lists`, "shell:read-only:git")
      : c.add("MEDIUM", `git ${sub} changes the repository`, "shell:git-write");
  }
  if (GIT_READ.has(sub)) {
    for (const w of optionValues(rest, ["--output", "-o"])) c.touch(w, "write");
    return c.add("LOW", `git ${sub} only reads`, "shell:read-only:git");
  }
  if (GIT_WRITE.has(sub))
    return c.add("MEDIUM", `git ${sub} changes the repository (reversible)`, "shell:git-write");
  c.add(
    "HIGH",
    `git ${sub} is not a git subcommand Rein knows (it may be an alias)`,
    "shell:unknown-command",
  );
};
