/** What Rein knows about programs that read, write and delete files (rm, cp, sed, tar, find, xargs, …). */

import type { CommandHandler } from "../command-catalog.js";
import { type CommandContext, flags, operands, optionValues, wordValue } from "../command-context.js";
import type { ShellWord } from "../shell-words.js";
import { remoteShell } from "./network.js";

/** Reads every operand as a path (credentials among them make the command HIGH). */
export function readsOperands(c: CommandContext, skip = 0): void {
  for (const w of operands(c.args).slice(skip)) c.touch(w, "read");
  for (const a of c.args) {
    const v = a.value;
    if (v?.startsWith("--") && v.includes("=")) c.touch(v.slice(v.indexOf("=") + 1), "read");
  }
}

export const readOnly =
  (skip = 0): CommandHandler =>
  (c) => {
    c.add("LOW", `${c.name} only reads`, `shell:read-only:${c.name}`);
    readsOperands(c, skip);
  };

export const harmless: CommandHandler = (c) =>
  c.add("LOW", `${c.name} changes nothing`, `shell:harmless:${c.name}`);

/** Every operand is written (created, changed or removed). */
export const writesOperands =
  (what: string): CommandHandler =>
  (c) => {
    c.add("MEDIUM", `${c.name} ${what}`, `shell:write:${c.name}`);
    const targets = operands(c.args);
    if (targets.length === 0 && c.unknownArgs)
      c.add("MEDIUM", `${c.name} acts on paths given at run time`, `shell:write:${c.name}`);
    for (const w of targets) c.touch(w, "write");
  };

/** cp/install/ln: sources read, the last operand written. */
export const copyLike =
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
export function destroysRootOrHome(word: ShellWord, c: CommandContext): string | null {
  const v = word.value;
  if (v === null)
    return word.variables.includes("HOME") && /^["']?\$\{?HOME\}?["']?\/?\*?$/.test(word.raw) ? "~" : null;
  const abs = c.paths.resolve(v);
  if (abs === "/" || /^\/\*$|^\/\.$/.test(v) || abs === "/*") return "/";
  if (abs === c.paths.context.home || abs === `${c.paths.context.home}/*`) return "~";
  if (abs.startsWith("/dev/") && !["/dev/null"].includes(abs)) return abs;
  return null;
}

export const rm: CommandHandler = (c) => {
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

export const chmod: CommandHandler = (c) => {
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

export const sed: CommandHandler = (c) => {
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

export const awk: CommandHandler = (c) => {
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

export const dd: CommandHandler = (c) => {
  c.add("MEDIUM", "dd copies data", "shell:write:dd");
  for (const a of c.args) {
    const v = a.value;
    if (v === null) c.add("HIGH", "dd with an operand resolved at run time", "shell:dynamic-argument");
    else if (v.startsWith("of=")) c.touch(v.slice(3), "write");
    else if (v.startsWith("if=")) c.touch(v.slice(3), "read");
  }
};

export const tar: CommandHandler = (c) => {
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

export const find: CommandHandler = (c) => {
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

export const xargs: CommandHandler = (c) => {
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

export const tee: CommandHandler = (c) => {
  c.add("MEDIUM", "tee writes its input to files", "shell:write:tee");
  for (const w of operands(c.args)) c.touch(w, "write");
};

export const sortCmd: CommandHandler = (c) => {
  c.add("LOW", "sort only reads", "shell:read-only:sort");
  readsOperands(c);
  for (const w of optionValues(c.args, ["-o", "--output"])) c.touch(w, "write");
};

export const rsync: CommandHandler = (c) => {
  const ops = operands(c.args);
  if (ops.some((w) => w.value === null || /^[^/]*:/.test(w.value))) return remoteShell(c);
  if (optionValues(c.args, ["-e", "--rsh"]).length > 0)
    return c.add("HIGH", "rsync -e runs a program", "shell:remote-access");
  copyLike("copies files")(c);
  if (flags(c.args).has("--delete"))
    c.add("HIGH", "rsync --delete deletes files at the destination", "shell:recursive-delete");
};
