// biome-ignore-all lint/suspicious/noTemplateCurlyInString: shell source text, not templates
import { beforeAll, describe, expect, it } from "vitest";
import { loadShellParser, type ShellParser } from "../../src/index.js";

let parser: ShellParser;
beforeAll(async () => {
  parser = await loadShellParser();
});
const argv = (src: string, i = 0) => parser.parse(src).commands[i]?.argv.map((w) => w.value);

describe("shell parsing (tree-sitter-bash)", () => {
  it("removes quotes the way the shell does, so quoting tricks name the same program", () => {
    expect(argv("r''m -rf /")).toEqual(["rm", "-rf", "/"]);
    expect(argv('r""m -rf /')).toEqual(["rm", "-rf", "/"]);
    expect(argv("\\rm -rf /")).toEqual(["rm", "-rf", "/"]);
    expect(argv("$'\\x72\\x6d' -rf /")).toEqual(["rm", "-rf", "/"]);
    expect(argv("$'\\162\\155' x")).toEqual(["rm", "x"]);
    expect(argv('"a\\"b" \'c\\d\'')).toEqual(['a"b', "c\\d"]);
    expect(argv("rm \\\n  -rf \\\n  /")).toEqual(["rm", "-rf", "/"]);
  });

  it("marks run-time words as unknown (null), including ${IFS} splicing and $(…) as a command name", () => {
    expect(argv("rm${IFS}-rf${IFS}/")).toEqual([null]);
    expect(argv("$(echo rm) -rf /", 1)).toEqual([null, "-rf", "/"]);
    expect(argv("$x -rf /")).toEqual([null, "-rf", "/"]);
  });

  it("keeps $HOME as ~ so the path rules judge what it names", () => {
    expect(argv("rm -rf $HOME")).toEqual(["rm", "-rf", "~"]);
    expect(argv('cat "${HOME}/.ssh/id_rsa"')).toEqual(["cat", "~/.ssh/id_rsa"]);
    expect(argv("echo a$HOME")).toEqual(["echo", null]);
  });

  it("finds every simple command in pipelines, lists, subshells, substitutions and function bodies", () => {
    const p = parser.parse("a | b && (c; d) || { e; } & f $(g) <(h) `i`; k() { l; }");
    expect(p.commands.map((c) => c.argv[0]?.value).sort()).toEqual(
      ["a", "b", "c", "d", "e", "f", "g", "h", "i", "l"].sort(),
    );
    expect(p.pipelines[0]?.stages).toEqual([[0], [1]]);
    expect(p.functions.has("k")).toBe(true);
    expect(p.problems).toEqual([]);
  });

  it("reads heredocs, herestrings and redirections, and joins `cat <<EOF | sh` into one pipeline", () => {
    const p = parser.parse("cat <<'EOF' | sh\nrm -rf /\nEOF\necho x >> ~/.bashrc 2>&1 < in.txt");
    expect(p.commands[0]?.redirects[0]).toMatchObject({ kind: "heredoc", body: "rm -rf /\n" });
    expect(p.pipelines[0]?.stages.length).toBe(2);
    const echo = p.commands.find((c) => c.argv[0]?.value === "echo");
    expect(echo?.redirects.map((r) => [r.kind, r.target.value])).toEqual([
      ["append", "~/.bashrc"],
      ["dup", "1"],
      ["read", "in.txt"],
    ]);
  });

  it("reports every ERROR and MISSING node as a problem, though tree-sitter still returns a tree", () => {
    for (const broken of ["echo $(ls", 'echo "unterminated', "ls && && ls", "if true; then ls", "cat <(ls"]) {
      expect(parser.parse(broken).problems.length, broken).toBeGreaterThan(0);
    }
    expect(parser.parse("echo $(ls").commands.map((c) => c.argv[0]?.value)).toContain("ls");
  });

  it("refuses to parse a command longer than 64 KiB (a problem, so it fails closed)", () => {
    expect(parser.parse(`echo ${"a".repeat(70_000)}`).problems[0]?.message).toMatch(/longer than/);
  });
});
