/**
 * What Rein knows about individual programs: each handler looks at the parsed arguments (never the
 * raw string) and says what the command does. Programs not listed here are HIGH (unknown).
 * Levels: read-only commands LOW; reversible workspace writes and running project code MEDIUM;
 * recursive deletes, force pushes, credential reads, persistence HIGH; privilege escalation,
 * destroying `/`, `~` or devices, reverse shells, writes to system paths BLOCK.
 */
import { type CommandContext, flags, operands, optionValues, wordValue } from "./command-context.js";
import type { ShellWord } from "./shell-words.js";

/** Splits a space-separated list of names. */
const words = (list: string): string[] => list.split(" ");

export type CommandHandler = (c: CommandContext) => void;

/** Reads every operand as a path (credentials among them make the command HIGH). */
function readsOperands(c: CommandContext, skip = 0): void {
  for (const w of operands(c.args).slice(skip)) c.touch(w, "read");
  for (const a of c.args) {
    const v = a.value;
    if (v?.startsWith("--") && v.includes("=")) c.touch(v.slice(v.indexOf("=") + 1), "read");
  }
}

const readOnly =
  (skip = 0): CommandHandler =>
  (c) => {
    c.add("LOW", `${c.name} only reads`, `shell:read-only:${c.name}`);
    readsOperands(c, skip);
  };

const harmless: CommandHandler = (c) => c.add("LOW", `${c.name} changes nothing`, `shell:harmless:${c.name}`);

/** Runs project code or a build tool: MEDIUM, with version/help queries LOW. */
const projectTool =
  (readSubcommands: readonly string[] = []): CommandHandler =>
  (c) => {
    const first = wordValue(operands(c.args)[0]);
    const only = c.args.map((a) => a.value);
    if (
      only.length === 1 &&
      ["--version", "-v", "-V", "version", "--help", "-h", "help"].includes(only[0] ?? "")
    ) {
      c.add("LOW", `${c.name} prints its version or help`, `shell:version:${c.name}`);
      return;
    }
    if (first !== null && readSubcommands.includes(first)) {
      c.add("LOW", `${c.name} ${first} only reads`, `shell:read-only:${c.name}`);
      return;
    }
    if (
      first !== null &&
      ["publish", "unpublish", "deprecate", "owner", "login", "adduser", "token"].includes(first)
    ) {
      c.add(
        "HIGH",
        `${c.name} ${first} publishes or changes registry credentials`,
        `shell:publish:${c.name}`,
      );
      return;
    }
    c.add("MEDIUM", `${c.name} runs project code or a build tool`, `shell:project-tool:${c.name}`);
    for (const w of optionValues(c.args, ["-o", "--output", "--outDir", "--out-dir", "--prefix"]))
      c.touch(w, "write");
  };

/** Every operand is written (created, changed or removed). */
const writesOperands =
  (what: string): CommandHandler =>
  (c) => {
    c.add("MEDIUM", `${c.name} ${what}`, `shell:write:${c.name}`);
    const targets = operands(c.args);
    if (targets.length === 0 && c.unknownArgs)
      c.add("MEDIUM", `${c.name} acts on paths given at run time`, `shell:write:${c.name}`);
    for (const w of targets) c.touch(w, "write");
  };

/** cp/install/ln: sources read, the last operand written. */
const copyLike =
  (what: string): CommandHandler =>
  (c) => {
    c.add("MEDIUM", `${c.name} ${what}`, `shell:write:${c.name}`);
    const ops = operands(c.args);
    const target = optionValues(c.args, ["-t", "--target-directory"])[0] ?? ops.pop();
    for (const w of ops) c.touch(w, "read");
    if (target) c.touch(target, "write");
    if (flags(c.args).has("r") || flags(c.args).has("R") || flags(c.args).has("a")) {
      for (const w of ops)
        if (w.value !== null && /^\/?$|^~\/?$/.test(w.value))
          c.add("HIGH", `${c.name} copies a whole tree`, "shell:copy-tree");
    }
  };

/** The destructive delete targets: `/`, `~`, devices. */
function destroysRootOrHome(word: ShellWord, c: CommandContext): string | null {
  const v = word.value;
  if (v === null)
    return word.variables.includes("HOME") && /^["']?\$\{?HOME\}?["']?\/?\*?$/.test(word.raw) ? "~" : null;
  const abs = c.paths.resolve(v);
  if (abs === "/" || /^\/\*$|^\/\.$/.test(v) || abs === "/*") return "/";
  if (abs === c.paths.context.home || abs === `${c.paths.context.home}/*`) return "~";
  if (abs.startsWith("/dev/") && !["/dev/null"].includes(abs)) return abs;
  return null;
}

const rm: CommandHandler = (c) => {
  const f = flags(c.args);
  const recursive = f.has("r") || f.has("R") || f.has("--recursive");
  if (f.has("--no-preserve-root"))
    c.add("BLOCK", "rm --no-preserve-root deletes the whole system", "shell:destroy-root");
  const targets = operands(c.args);
  for (const w of targets) {
    const gone = destroysRootOrHome(w, c);
    if (gone && (recursive || gone.startsWith("/dev/")))
      c.add(
        "BLOCK",
        `rm ${recursive ? "-r " : ""}destroys ${gone}`,
        gone === "/" ? "shell:destroy-root" : gone === "~" ? "shell:destroy-home" : "shell:destroy-device",
      );
    c.touch(w, "write");
  }
  if (recursive) {
    const shown = targets.map((t) => t.raw).join(" ") || "paths given at run time";
    c.add("HIGH", `rm -r deletes ${shown} recursively, which cannot be undone`, "shell:recursive-delete");
  } else if (targets.some((t) => t.value === null)) {
    c.add("HIGH", "rm deletes files named only at run time", "shell:delete-unknown");
  } else if (c.unknownArgs) {
    c.add("MEDIUM", "rm deletes the files its wrapper (find -exec, xargs) lists", "shell:delete-file");
  } else {
    c.add("MEDIUM", `rm deletes ${targets.map((t) => t.raw).join(" ")}`, "shell:delete-file");
  }
};

const chmod: CommandHandler = (c) => {
  const ops = operands(c.args);
  const mode = wordValue(ops[0]);
  if (
    mode === null ||
    (/[+=][^,]*[st]|^[0-7]?[4-7][0-7]{3}$/.test(mode) && /s|^[0-7]?[2467][0-7]{3}$/.test(mode))
  ) {
    if (mode !== null && (/[+=][^,]*s/.test(mode) || /^[2467][0-7]{3}$/.test(mode)))
      c.add("BLOCK", `chmod ${mode} sets the setuid/setgid bit (privilege escalation)`, "shell:setuid");
  }
  c.add("MEDIUM", `chmod changes permissions`, "shell:write:chmod");
  if (flags(c.args).has("R") && ops.slice(1).some((w) => destroysRootOrHome(w, c)))
    c.add("BLOCK", "chmod -R on / or ~", "shell:destroy-root");
  for (const w of ops.slice(1)) c.touch(w, "write");
};

const privilege: CommandHandler = (c) => {
  c.add("BLOCK", `${c.name} escalates privileges`, "shell:privilege-escalation");
};

const destroyDevice: CommandHandler = (c) => {
  c.add("BLOCK", `${c.name} destroys file systems or disks`, "shell:destroy-device");
};

const systemControl: CommandHandler = (c) => {
  c.add("BLOCK", `${c.name} stops or reconfigures the machine`, "shell:system-control");
};

const persistence =
  (what: string, readOnlyFlags: readonly string[] = []): CommandHandler =>
  (c) => {
    if (c.args.length > 0 && c.args.every((a) => a.value !== null && readOnlyFlags.includes(a.value))) {
      c.add(
        "LOW",
        `${c.name} ${c.args.map((a) => a.value).join(" ")} only reads`,
        `shell:read-only:${c.name}`,
      );
      return;
    }
    c.add("HIGH", `${c.name} ${what}`, "shell:persistence");
  };

const GIT_READ = new Set(
  words(
    "status log diff show blame ls-files ls-tree ls-remote rev-parse rev-list describe shortlog grep cat-file whatchanged help version merge-base name-rev show-ref for-each-ref check-ignore count-objects fsck var diff-tree diff-files diff-index",
  ),
);
const GIT_WRITE = new Set(
  words(
    "add commit checkout switch merge rebase pull fetch clone init cherry-pick revert mv rm am apply bisect submodule restore notes worktree archive format-patch sparse-checkout maintenance lfs",
  ),
);
/** `git -c key=value` keys that make git run a program. */
const GIT_EXEC_KEYS =
  /^(core\.(pager|sshcommand|hookspath|fsmonitor|editor|askpass|gitproxy)|alias\.|diff\..*\.(textconv|command)|filter\.|merge\..*\.driver|credential\.helper|sequence\.editor|gpg\.program|uploadpack\.packobjectshook|protocol\.ext\.allow|url\.)/i;

/** The program a git setting runs (`core.pager=…`, `alias.x=!…`), judged as a nested script. */
function gitProgram(c: CommandContext, key: string, value: string): void {
  if (/^alias\./i.test(key)) {
    if (value.startsWith("!")) c.script(value.slice(1), `git alias ${key}`);
  } else if (
    /pager|sshcommand|editor|askpass|fsmonitor|textconv|command|driver|helper|program/i.test(key) &&
    value !== ""
  ) {
    c.script(value, `git ${key}`);
  }
}

const git: CommandHandler = (c) => {
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

/** curl/wget: a download is MEDIUM; every URL goes through the egress policy; uploads are HIGH. */
const fetcher: CommandHandler = (c) => {
  c.add("MEDIUM", `${c.name} downloads over the network`, "shell:network");
  const isCurl = c.name === "curl";
  const urlOptions = isCurl ? ["--url"] : [];
  // Data options may name a file (`@file`, `<file` in a form); file options always do.
  const dataOptions = isCurl
    ? ["-d", "--data", "--data-binary", "--data-urlencode", "--data-ascii", "-F", "--form", "--json"]
    : ["--post-data", "--body-data"];
  const fileOptions = isCurl ? ["-T", "--upload-file"] : ["--post-file", "--body-file"];
  const uploads: { word: ShellWord; file: string | null }[] = [
    ...optionValues(c.args, dataOptions).map((word) => ({
      word,
      file: word.value !== null && /^@|=@|=</.test(word.value) ? word.value.replace(/^.*?[@<]/, "") : null,
    })),
    ...optionValues(c.args, fileOptions).map((word) => ({ word, file: word.value })),
  ];
  for (const { word, file } of uploads) {
    if (word.value === null) {
      c.add("HIGH", `${c.name} sends data computed at run time`, "shell:upload");
      continue;
    }
    if (file === null || file === "-") continue;
    const verdict = c.touch(file, "read");
    if (verdict && verdict.level !== "LOW")
      c.add(
        "BLOCK",
        `${c.name} uploads ${file}, a sensitive file, to the network (exfiltration)`,
        "shell:exfiltrate-secret",
      );
    else c.add("HIGH", `${c.name} uploads ${file} to the network`, "shell:upload");
  }
  const outputs = isCurl
    ? optionValues(c.args, ["-o", "--output"])
    : optionValues(c.args, ["-O", "--output-document", "-P", "--directory-prefix", "-o", "--output-file"]);
  for (const w of outputs) if (w.value !== "-") c.touch(w, "write");
  const valued = new Set(
    isCurl
      ? [
          "-d",
          "--data",
          "--data-binary",
          "--data-raw",
          "--data-urlencode",
          "-F",
          "--form",
          "-T",
          "--upload-file",
          "-o",
          "--output",
          "-H",
          "--header",
          "-u",
          "--user",
          "-X",
          "--request",
          "-A",
          "--user-agent",
          "-e",
          "--referer",
          "-b",
          "--cookie",
          "-c",
          "--cookie-jar",
          "-x",
          "--proxy",
          "-m",
          "--max-time",
          "--connect-timeout",
          "-w",
          "--write-out",
          "-K",
          "--config",
          "--retry",
          "-r",
          "--range",
          "--json",
          "--resolve",
          "--cacert",
          "--cert",
          "--key",
          "-E",
          "--url",
        ]
      : [
          "-O",
          "--output-document",
          "-P",
          "--directory-prefix",
          "-o",
          "--output-file",
          "--post-file",
          "--post-data",
          "--body-file",
          "--body-data",
          "-U",
          "--user-agent",
          "--header",
          "-t",
          "--tries",
          "-T",
          "--timeout",
          "-e",
          "--execute",
          "--method",
        ],
  );
  for (const w of optionValues(c.args, urlOptions)) c.url(w.value ?? "");
  for (let i = 0; i < c.args.length; i++) {
    const v = c.args[i]?.value;
    if (v === null || v === undefined) {
      c.add("HIGH", `${c.name} with an argument resolved at run time`, "shell:dynamic-argument");
      continue;
    }
    if (valued.has(v)) {
      i++;
      continue;
    }
    if (v.startsWith("-")) continue;
    c.url(v);
  }
  for (const w of optionValues(c.args, ["-K", "--config", "-e", "--execute"]))
    c.add("HIGH", `${c.name} reads options from ${w.raw}`, "shell:network-config");
};

const rawSocket: CommandHandler = (c) => {
  const f = flags(c.args);
  const values = c.args.map((a) => a.value ?? "");
  if (
    f.has("e") ||
    f.has("c") ||
    f.has("--exec") ||
    f.has("--sh-exec") ||
    f.has("--lua-exec") ||
    values.some((v) => /^(EXEC|SYSTEM):/i.test(v)) ||
    values.some((v) => /(^|,)exec:/i.test(v))
  )
    return c.add(
      "BLOCK",
      `${c.name} connects a shell to a network socket (reverse shell)`,
      "shell:reverse-shell",
    );
  c.add("HIGH", `${c.name} opens raw network connections`, "shell:raw-socket");
};

const remoteShell: CommandHandler = (c) => {
  c.add(
    "HIGH",
    `${c.name} reaches another machine (remote commands or file transfer)`,
    "shell:remote-access",
  );
  for (const w of operands(c.args)) if (w.value !== null && !w.value.includes(":")) c.touch(w, "read");
};

const sed: CommandHandler = (c) => {
  const f = flags(c.args);
  const inPlace = f.has("i") || f.has("--in-place");
  const scripts = optionValues(c.args, ["-e", "--expression"]);
  const ops = operands(c.args);
  const script = scripts.length > 0 ? scripts : ops.slice(0, 1);
  const files = scripts.length > 0 ? ops : ops.slice(1);
  for (const s of script) {
    if (s.value === null) c.add("HIGH", "sed with a script resolved at run time", "shell:dynamic-argument");
    else if (/(^|[;\n{}])\s*[0-9,$]*\s*[ewW]\b|\/[gpiIMm0-9]*[ewW]\b/.test(s.value))
      c.add("HIGH", "the sed script runs commands or writes files (e/w commands)", "shell:sed-exec");
  }
  if (f.has("f") || f.has("--file"))
    c.add("MEDIUM", "sed runs a script from a file", "shell:sed-script-file");
  if (inPlace) {
    c.add("MEDIUM", "sed -i edits files in place", "shell:write:sed");
    for (const w of files) c.touch(w, "write");
  } else {
    c.add("LOW", "sed prints transformed text", "shell:read-only:sed");
    for (const w of files) c.touch(w, "read");
  }
};

const awk: CommandHandler = (c) => {
  const ops = operands(c.args);
  const program = optionValues(c.args, ["-f"]).length > 0 ? null : ops[0];
  if (program && program.value === null)
    c.add("HIGH", "awk program resolved at run time", "shell:dynamic-argument");
  else if (
    program?.value &&
    /\bsystem\s*\(|\|\s*getline|\bgetline\b|print[^;]*[|>]|printf[^;]*[|>]/.test(program.value)
  )
    c.add("HIGH", "the awk program runs commands or writes files", "shell:awk-exec");
  else c.add("LOW", `${c.name} prints transformed text`, `shell:read-only:${c.name}`);
  for (const w of ops.slice(program ? 1 : 0))
    if (w.value === null || !w.value.includes("=")) c.touch(w, "read");
};

const dd: CommandHandler = (c) => {
  c.add("MEDIUM", "dd copies data", "shell:write:dd");
  for (const a of c.args) {
    const v = a.value;
    if (v === null) c.add("HIGH", "dd with an operand resolved at run time", "shell:dynamic-argument");
    else if (v.startsWith("of=")) c.touch(v.slice(3), "write");
    else if (v.startsWith("if=")) c.touch(v.slice(3), "read");
  }
};

const tar: CommandHandler = (c) => {
  const first = wordValue(c.args[0]) ?? "";
  const f = flags(c.args);
  const mode = /^[a-zA-Z]+$/.test(first) ? new Set(first) : f;
  if (mode.has("t") || f.has("--list")) {
    c.add("LOW", "tar lists an archive", "shell:read-only:tar");
    return;
  }
  c.add("MEDIUM", "tar creates or extracts an archive", "shell:write:tar");
  const extract = mode.has("x") || f.has("--extract");
  for (const w of optionValues(c.args, ["-f", "--file"])) c.touch(w, extract ? "read" : "write");
  for (const w of optionValues(c.args, ["-C", "--directory"])) c.touch(w, extract ? "write" : "read");
  // With bundled flags (`tar -czf out.tgz dir`) the archive is the first operand after them.
  const ops = operands(c.args.slice(/^[a-zA-Z]+$/.test(first) ? 1 : 0));
  const bundledFile = /f/.test(first.replace(/^-/, "")) && !optionValues(c.args, ["-f", "--file"]).length;
  ops.forEach((w, i) => {
    if (bundledFile && i === 0) c.touch(w, extract ? "read" : "write");
    else if (!extract) c.touch(w, "read");
  });
  if (f.has("--to-command") || f.has("--checkpoint-action") || f.has("--use-compress-program") || f.has("I"))
    c.add("HIGH", "tar runs a program given on the command line", "shell:tar-exec");
};

const find: CommandHandler = (c) => {
  const args = c.args;
  const roots: ShellWord[] = [];
  let level: "LOW" | "HIGH" = "LOW";
  for (let i = 0; i < args.length; i++) {
    const v = args[i]?.value;
    if (v === "-delete") {
      level = "HIGH";
      c.add("HIGH", "find -delete deletes every file it matches", "shell:find-delete");
    } else if (v === "-exec" || v === "-execdir" || v === "-ok" || v === "-okdir") {
      const inner: ShellWord[] = [];
      for (i++; i < args.length; i++) {
        const w = args[i] as ShellWord;
        if (w.value === ";" || w.value === "+") break;
        inner.push(w);
      }
      c.nested(
        inner.filter((w) => w.value !== "{}"),
        `find ${v}`,
        true,
      );
    } else if (v === "-fprint" || v === "-fprint0" || v === "-fprintf" || v === "-fls") {
      const target = args[++i];
      if (target) c.touch(target, "write");
    } else if (v && !v.startsWith("-") && !v.startsWith("(") && !v.startsWith("!") && roots.length === i) {
      roots.push(args[i] as ShellWord);
      c.touch(args[i] as ShellWord, "read");
    }
  }
  const acts =
    level === "HIGH" || args.some((a) => a.value?.startsWith("-exec") || a.value?.startsWith("-ok"));
  for (const root of roots) {
    const gone = destroysRootOrHome(root, c);
    if (gone && acts)
      c.add(
        "BLOCK",
        `find ${gone} with -delete/-exec acts on the whole of ${gone}`,
        gone === "/" ? "shell:destroy-root" : "shell:destroy-home",
      );
  }
  if (level === "LOW") c.add("LOW", "find lists files", "shell:read-only:find");
};

const xargs: CommandHandler = (c) => {
  const valued = new Set([
    "-n",
    "-I",
    "-i",
    "-L",
    "-l",
    "-P",
    "-d",
    "-E",
    "-e",
    "-s",
    "-a",
    "--max-args",
    "--replace",
    "--max-lines",
    "--max-procs",
    "--delimiter",
    "--eof",
    "--arg-file",
    "--max-chars",
  ]);
  let i = 0;
  for (; i < c.args.length; i++) {
    const v = c.args[i]?.value;
    if (v === null || v === undefined) break;
    if (valued.has(v)) i++;
    else if (!v.startsWith("-")) break;
  }
  const inner = c.args.slice(i);
  if (inner.length === 0) return c.add("LOW", "xargs echoes its input", "shell:read-only:xargs");
  c.add("LOW", "xargs runs a command with arguments from its input", "shell:wrapper:xargs");
  c.nested(inner, "xargs", true);
};

const interpreterInline =
  /(socket|fsockopen|TCPSocket|net\.connect|Socket\.new)[\s\S]*(subprocess|pty|exec|spawn|dup2|popen|\/bin\/(ba)?sh)|(subprocess|pty|exec|spawn|dup2|popen)[\s\S]*(socket|fsockopen|TCPSocket|net\.connect)/i;

/** python/node/perl/ruby/php…: a script file or inline code is project code (MEDIUM); stdin code is judged by its source. */
const interpreter =
  (inlineFlags: readonly string[]): CommandHandler =>
  (c) => {
    const values = c.args.map((a) => a.value);
    if (values.length === 1 && ["--version", "-V", "-v", "--help", "-h"].includes(values[0] ?? ""))
      return c.add("LOW", `${c.name} prints its version`, `shell:version:${c.name}`);
    const inline = optionValues(c.args, inlineFlags);
    for (const code of inline) {
      if (code.value === null)
        c.add("HIGH", `${c.name} runs code computed at run time`, "shell:dynamic-code");
      else if (interpreterInline.test(code.value))
        c.add(
          "BLOCK",
          `${c.name} code connects a socket to a process (reverse shell)`,
          "shell:reverse-shell",
        );
    }
    if (inline.length > 0) return c.add("MEDIUM", `${c.name} runs inline code`, "shell:inline-code");
    const script = operands(c.args)[0];
    if (!script || script.value === "-" || script.value === "/dev/stdin") return stdinScript(c);
    if (script.processSubstitution || script.value === null) {
      const source = c.sourceOf(script);
      if (source.kind === "remote")
        return c.add(
          "BLOCK",
          `${c.name} runs code downloaded by ${source.from} (remote code execution)`,
          "shell:remote-code-exec",
        );
      if (source.kind === "decoded")
        return c.add(
          "BLOCK",
          `${c.name} runs code decoded by ${source.from} (obfuscated command)`,
          "shell:obfuscated-code-exec",
        );
      return c.add(
        "HIGH",
        `${c.name} runs a script only known at run time (${script.raw})`,
        "shell:dynamic-code",
      );
    }
    c.add("MEDIUM", `${c.name} runs ${script.raw} (project code)`, "shell:project-code");
    c.touch(script, "read");
  };

/** An interpreter reading its program from stdin: as dangerous as what feeds it. */
export function stdinScript(c: CommandContext, parse?: (text: string) => void) {
  const src = c.stdinSource();
  switch (src.kind) {
    case "remote":
      return c.add(
        "BLOCK",
        `${c.name} runs code downloaded by ${src.from} (remote code execution)`,
        "shell:remote-code-exec",
      );
    case "decoded":
      return c.add(
        "BLOCK",
        `${c.name} runs code decoded by ${src.from} (obfuscated command)`,
        "shell:obfuscated-code-exec",
      );
    case "static":
      if (parse) return parse(src.text);
      return c.add("MEDIUM", `${c.name} runs inline code from ${src.from}`, "shell:inline-code");
    case "other":
      return c.add("HIGH", `${c.name} runs code read from ${src.from}`, "shell:stdin-code");
    default:
      return c.add("HIGH", `${c.name} runs code read from its standard input`, "shell:stdin-code");
  }
}

const kill: CommandHandler = (c) => {
  const targets = operands(c.args).map((w) => w.value);
  if (targets.some((t) => t === null || t === "1" || t === "-1" || t === "0"))
    return c.add("HIGH", "kill targets every process or init", "shell:kill-all");
  if (c.args.some((a) => a.value === "-1"))
    return c.add("HIGH", "kill -1 targets every process", "shell:kill-all");
  c.add("MEDIUM", "kill stops a process", "shell:kill");
};

const containers: CommandHandler = (c) => {
  const sub = wordValue(operands(c.args)[0]);
  const values = c.args.map((a) => a.value ?? "");
  if (
    values.some((v) => v === "--privileged" || /^(-v|--volume)$/.test(v)) &&
    values.some((v) => /^\/(:|$)|^\/var\/run\/docker\.sock|^\/:/.test(v))
  )
    return c.add(
      "BLOCK",
      `${c.name} gives a container the host's root or docker socket (privilege escalation)`,
      "shell:privilege-escalation",
    );
  if (values.includes("--privileged") || values.some((v) => /^--(pid|net|ipc)=host$/.test(v)))
    return c.add("BLOCK", `${c.name} --privileged escapes isolation`, "shell:privilege-escalation");
  if (
    sub !== null &&
    [
      "ps",
      "images",
      "version",
      "info",
      "logs",
      "inspect",
      "top",
      "stats",
      "get",
      "describe",
      "config",
    ].includes(sub)
  )
    return c.add("LOW", `${c.name} ${sub} only reads`, `shell:read-only:${c.name}`);
  if (sub !== null && ["build", "pull", "buildx"].includes(sub) && c.name !== "kubectl")
    return c.add("MEDIUM", `${c.name} ${sub} builds or fetches images`, `shell:project-tool:${c.name}`);
  c.add(
    "HIGH",
    `${c.name} ${sub ?? ""} runs or changes containers or clusters`.replace("  ", " "),
    "shell:containers",
  );
};

const credentialCli: CommandHandler = (c) => {
  const values = c.args.map((a) => a.value ?? "").join(" ");
  if (
    /(^| )(configure get|configure export-credentials|auth (print-access-token|print-identity-token|token)|credential (fill|get)|get-session-token|get-secret-value|secrets? (get|show|read)|find-(generic|internet)-password|account get-access-token)/.test(
      values,
    )
  )
    return c.add("HIGH", `${c.name} prints credentials`, "shell:credential-read");
  c.add("HIGH", `${c.name} acts on cloud resources with the user's credentials`, "shell:cloud-cli");
};

const tee: CommandHandler = (c) => {
  c.add("MEDIUM", "tee writes its input to files", "shell:write:tee");
  for (const w of operands(c.args)) c.touch(w, "write");
};

const sortCmd: CommandHandler = (c) => {
  c.add("LOW", "sort only reads", "shell:read-only:sort");
  readsOperands(c);
  for (const w of optionValues(c.args, ["-o", "--output"])) c.touch(w, "write");
};

const rsync: CommandHandler = (c) => {
  const ops = operands(c.args);
  if (ops.some((w) => w.value === null || /^[^/]*:/.test(w.value))) return remoteShell(c);
  if (optionValues(c.args, ["-e", "--rsh"]).length > 0)
    return c.add("HIGH", "rsync -e runs a program", "shell:remote-access");
  copyLike("copies files")(c);
  if (flags(c.args).has("--delete"))
    c.add("HIGH", "rsync --delete deletes files at the destination", "shell:recursive-delete");
};

const shellRead = words(
  "cat head tail less more wc grep egrep fgrep rg ag ack ls ll dir tree stat file du diff cmp comm md5sum sha1sum sha256sum sha512sum cksum b2sum hexdump od strings tac paste join fold fmt expand unexpand nl column zcat zless bzcat xzcat zgrep jq yq readlink realpath basename dirname uniq cut tr rev look lsof source-highlight bat batcat less view wc shasum base32 iconv numfmt lsattr getfacl namei xmllint tidy csvlook sqlite3-analyzer difft delta cloc tokei scc locate",
);
const shellHarmless = words(
  "echo printf true false test [ [[ pwd which whereis type date printenv seq sleep yes cal bc expr locale nproc free uptime ps pgrep pidof env history man help tldr read cd pushd popd dirs export alias unalias set unset shift exit return local declare typeset readonly : wait jobs fg bg getconf lscpu lsblk arch tty stty clear reset tput logname df ulimit umask hash trap getopts let shopt complete compgen disown times sync mktemp tsort factor md5 column vmstat iostat mpstat sar lsusb lspci lsmod dmesg journalctl top htop btop apropos whatis info base64 xxd",
);

/** Harmless, but what an attacker runs first: logged (MEDIUM) so a probe does not pass unseen. */
const shellRecon = words(
  "whoami id groups uname hostname users who w last ping dig nslookup host traceroute tracepath netstat ss ifconfig arp route getent finger",
);

const recon: CommandHandler = (c) =>
  c.add(
    "MEDIUM",
    `${c.name} reveals user, system or network details (reconnaissance is logged)`,
    "shell:recon",
  );

export const COMMANDS: ReadonlyMap<string, CommandHandler> = new Map<string, CommandHandler>([
  ...shellRead.map((n) => [n, readOnly()] as const),
  ...shellRecon.map((n) => [n, recon] as const),
  ...shellHarmless.map((n) => [n, harmless] as const),
  ["grep", readOnly(1)],
  ["egrep", readOnly(1)],
  ["fgrep", readOnly(1)],
  ["rg", readOnly(1)],
  ["ag", readOnly(1)],
  ["ack", readOnly(1)],
  ["zgrep", readOnly(1)],
  ["jq", readOnly(1)],
  ["yq", readOnly(1)],
  ["tr", harmless],
  ...["fd", "fdfind"].map(
    (n) =>
      [
        n,
        (c: CommandContext) => {
          const f = flags(c.args);
          if (f.has("x") || f.has("X") || f.has("--exec") || f.has("--exec-batch"))
            return c.add("HIGH", `${c.name} --exec runs a command for every match`, "shell:find-exec");
          readOnly(1)(c);
        },
      ] as const,
  ),
  [
    "openssl",
    (c) => {
      const sub = wordValue(c.args[0]);
      if (sub === "s_client" || sub === "s_server")
        return c.add("HIGH", `openssl ${sub} opens a network connection`, "shell:raw-socket");
      c.add("MEDIUM", "openssl transforms data or keys", "shell:openssl");
    },
  ],
  ["sort", sortCmd],
  ["sed", sed],
  ["awk", awk],
  ["gawk", awk],
  ["mawk", awk],
  ["nawk", awk],
  ["find", find],
  ["xargs", xargs],
  ["rm", rm],
  ["unlink", rm],
  ["rmdir", writesOperands("removes empty directories")],
  [
    "shred",
    (c) => {
      c.add("HIGH", "shred destroys file contents irrecoverably", "shell:shred");
      writesOperands("overwrites files")(c);
    },
  ],
  ["mkdir", writesOperands("creates directories")],
  ["touch", writesOperands("creates or touches files")],
  ["truncate", writesOperands("truncates files")],
  ["mv", writesOperands("moves files")],
  ["cp", copyLike("copies files")],
  ["install", copyLike("installs files")],
  ["ln", copyLike("creates links")],
  ["rsync", rsync],
  ["tee", tee],
  ["chmod", chmod],
  ["chown", (c) => c.add("HIGH", "chown changes file ownership", "shell:chown")],
  ["chgrp", (c) => c.add("HIGH", "chgrp changes file ownership", "shell:chown")],
  ["dd", dd],
  ["tar", tar],
  [
    "unzip",
    (c) =>
      flags(c.args).has("l")
        ? c.add("LOW", "unzip -l lists", "shell:read-only:unzip")
        : writesOperands("extracts an archive")(c),
  ],
  ["zip", writesOperands("creates an archive")],
  ["gzip", writesOperands("compresses files")],
  ["gunzip", writesOperands("decompresses files")],
  ["bzip2", writesOperands("compresses files")],
  ["xz", writesOperands("compresses files")],
  ["unxz", writesOperands("decompresses files")],
  ["patch", (c) => c.add("MEDIUM", "patch edits files", "shell:write:patch")],
  ["split", (c) => c.add("MEDIUM", "split writes files", "shell:write:split")],
  ["git", git],
  ["curl", fetcher],
  ["wget", fetcher],
  ["nc", rawSocket],
  ["ncat", rawSocket],
  ["netcat", rawSocket],
  ["socat", rawSocket],
  ["telnet", rawSocket],
  ["ssh", remoteShell],
  ["scp", remoteShell],
  ["sftp", remoteShell],
  ["ftp", remoteShell],
  ["sudo", privilege],
  ["doas", privilege],
  ["su", privilege],
  ["pkexec", privilege],
  ["run0", privilege],
  ["setcap", privilege],
  ["useradd", privilege],
  ["usermod", privilege],
  ["userdel", privilege],
  ["groupadd", privilege],
  ["passwd", privilege],
  ["chpasswd", privilege],
  ["visudo", privilege],
  ["newgrp", privilege],
  ["insmod", privilege],
  ["rmmod", privilege],
  ["modprobe", privilege],
  [
    "mount",
    (c) => (c.args.length === 0 ? c.add("LOW", "mount lists mounts", "shell:read-only:mount") : privilege(c)),
  ],
  ["umount", privilege],
  ["chroot", privilege],
  ["nsenter", privilege],
  ["mkfs", destroyDevice],
  ["mke2fs", destroyDevice],
  ["mkswap", destroyDevice],
  ["fdisk", destroyDevice],
  ["sfdisk", destroyDevice],
  ["parted", destroyDevice],
  ["wipefs", destroyDevice],
  ["blkdiscard", destroyDevice],
  ["shutdown", systemControl],
  ["reboot", systemControl],
  ["halt", systemControl],
  ["poweroff", systemControl],
  ["init", systemControl],
  ["telinit", systemControl],
  ["iptables", systemControl],
  ["ip6tables", systemControl],
  ["nft", systemControl],
  ["ufw", systemControl],
  [
    "sysctl",
    (c) =>
      c.args.every((a) => a.value !== null && !a.value.includes("=") && a.value !== "-w")
        ? c.add("LOW", "sysctl reads kernel settings", "shell:read-only:sysctl")
        : systemControl(c),
  ],
  [
    "systemctl",
    (c) => {
      const sub = wordValue(operands(c.args)[0]);
      if (
        sub !== null &&
        ["status", "show", "list-units", "list-unit-files", "is-active", "is-enabled", "cat"].includes(sub)
      )
        return c.add("LOW", `systemctl ${sub} only reads`, "shell:read-only:systemctl");
      if (
        sub !== null &&
        [
          "poweroff",
          "reboot",
          "halt",
          "kexec",
          "suspend",
          "hibernate",
          "isolate",
          "rescue",
          "emergency",
        ].includes(sub)
      )
        return systemControl(c);
      c.add("HIGH", `systemctl ${sub ?? ""} changes services (persistence)`, "shell:persistence");
    },
  ],
  ["service", persistence("changes services")],
  ["crontab", persistence("installs scheduled jobs (persistence)", ["-l"])],
  ["at", persistence("schedules a job (persistence)", ["-l"])],
  ["batch", persistence("schedules a job (persistence)")],
  ["launchctl", persistence("installs services (persistence)", ["list"])],
  ["kill", kill],
  ["pkill", (c) => c.add("HIGH", "pkill stops processes by name", "shell:kill-all")],
  ["killall", (c) => c.add("HIGH", "killall stops processes by name", "shell:kill-all")],
  ["docker", containers],
  ["podman", containers],
  ["kubectl", containers],
  ["helm", containers],
  ["aws", credentialCli],
  ["gcloud", credentialCli],
  ["az", credentialCli],
  [
    "gh",
    (c) => {
      const v = c.args.map((a) => a.value ?? "").join(" ");
      if (/^auth (token|status --show-token)/.test(v))
        return c.add("HIGH", "gh auth token prints credentials", "shell:credential-read");
      if (/^(pr|issue|repo|run|release) (view|list|status|diff|checks)/.test(v))
        return c.add("LOW", "gh reads from GitHub", "shell:read-only:gh");
      c.add("MEDIUM", "gh acts on GitHub", "shell:network");
    },
  ],
  ["security", credentialCli],
  ["vault", credentialCli],
  [
    "terraform",
    (c) => {
      const sub = wordValue(operands(c.args)[0]);
      if (sub !== null && ["apply", "destroy", "import", "taint", "state"].includes(sub))
        return c.add("HIGH", `terraform ${sub} changes real infrastructure`, "shell:infrastructure");
      c.add("MEDIUM", "terraform plans infrastructure", "shell:project-tool:terraform");
    },
  ],
  ["python", interpreter(["-c"])],
  ["python3", interpreter(["-c"])],
  ["python2", interpreter(["-c"])],
  ["pypy", interpreter(["-c"])],
  ["node", interpreter(["-e", "--eval", "-p", "--print"])],
  ["nodejs", interpreter(["-e", "--eval", "-p", "--print"])],
  ["deno", projectTool(["info", "--version"])],
  ["bun", projectTool(["--version", "pm"])],
  ["perl", interpreter(["-e", "-E"])],
  ["ruby", interpreter(["-e"])],
  ["php", interpreter(["-r"])],
  ["lua", interpreter(["-e"])],
  ["Rscript", interpreter(["-e"])],
  ...["npm", "pnpm", "yarn"].map(
    (n) =>
      [
        n,
        projectTool([
          "ls",
          "list",
          "view",
          "info",
          "outdated",
          "why",
          "explain",
          "audit",
          "help",
          "config",
          "root",
          "bin",
          "prefix",
          "search",
          "docs",
          "doctor",
          "fund",
          "licenses",
        ]),
      ] as const,
  ),
  ...words(
    "npx pnpx bunx tsx ts-node tsc vitest jest mocha ava eslint prettier biome oxlint vite webpack rollup esbuild next nuxt astro turbo nx lerna make cmake ninja meson bazel cargo rustc rustup go gofmt gcc g++ clang clang++ cc c++ ld javac java mvn gradle gradlew kotlinc scalac sbt dotnet swift swiftc pip pip3 pipx poetry uv pdm hatch pytest tox nox ruff black isort mypy pyright flake8 pylint bandit coverage gem bundle bundler rake rails rspec rubocop composer phpunit mix elixir erl rebar3 ghc cabal stack zig clippy shellcheck shfmt hadolint actionlint pre-commit playwright cypress storybook wrangler vercel netlify ansible-lint yamllint markdownlint protoc buf sqlite3 psql mysql redis-cli http-server serve nodemon pm2 direnv asdf nvm pyenv rbenv corepack code vim vi nano emacs ed",
  ).map((n) => [n, projectTool()] as const),
]);
