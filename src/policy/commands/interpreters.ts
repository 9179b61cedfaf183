/** What Rein knows about interpreters and build tools: project code is MEDIUM; code from the network or a decoder is BLOCK. */

import type { CommandHandler } from "../command-catalog.js";
import {
  type CommandContext,
  codeSourceFinding,
  operands,
  optionValues,
  wordValue,
} from "../command-context.js";

/** Runs project code or a build tool: MEDIUM, with version/help queries LOW. */
export const projectTool =
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

export const interpreterInline =
  /(socket|fsockopen|TCPSocket|net\.connect|Socket\.new)[\s\S]*(subprocess|pty|exec|spawn|dup2|popen|\/bin\/(ba)?sh)|(subprocess|pty|exec|spawn|dup2|popen)[\s\S]*(socket|fsockopen|TCPSocket|net\.connect)/i;

/** python/node/perl/ruby/php…: a script file or inline code is project code (MEDIUM); stdin code is judged by its source. */
export const interpreter =
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
      const f = codeSourceFinding(`${c.name}`, source, {
        level: "HIGH",
        reason: `${c.name} runs a script only known at run time (${script.raw})`,
        rule: "shell:dynamic-code",
      });
      return c.add(f.level, f.reason, f.rule);
    }
    c.add("MEDIUM", `${c.name} runs ${script.raw} (project code)`, "shell:project-code");
    c.touch(script, "read");
  };

/** An interpreter reading its program from stdin: as dangerous as what feeds it. */
export function stdinScript(c: CommandContext, parse?: (text: string) => void) {
  const src = c.stdinSource();
  switch (src.kind) {
    case "remote":
    case "decoded": {
      const f = codeSourceFinding(c.name, src, { level: "HIGH", reason: "", rule: "" });
      return c.add(f.level, f.reason, f.rule);
    }
    case "static":
      if (parse) return parse(src.text);
      return c.add("MEDIUM", `${c.name} runs inline code from ${src.from}`, "shell:inline-code");
    case "other":
      return c.add("HIGH", `${c.name} runs code read from ${src.from}`, "shell:stdin-code");
    default:
      return c.add("HIGH", `${c.name} runs code read from its standard input`, "shell:stdin-code");
  }
}
