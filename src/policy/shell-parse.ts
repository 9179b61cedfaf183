/**
 * Parses shell commands with tree-sitter-bash (web-tree-sitter, WebAssembly) into simple commands the
 * analysis can judge one by one. Loading the grammar is asynchronous and done once per process
 * (`loadShellParser`); after that `parse` is synchronous (~0.1 ms a command, measured in
 * `npm run bench -- policy`). tree-sitter is error tolerant: a broken command still yields a tree,
 * so every ERROR or MISSING node becomes a `problem`, and the analysis fails closed on any problem.
 */
import { createRequire } from "node:module";
import type { Language, Node, Parser } from "web-tree-sitter";
import {
  decodeAnsiC,
  hasUnquotedGlob,
  type ShellWord,
  unescapeDoubleQuoted,
  unescapeUnquoted,
} from "./shell-words.js";

export type { ShellWord } from "./shell-words.js";

export type RedirectKind = "read" | "write" | "append" | "read-write" | "dup" | "heredoc" | "herestring";

export interface ShellRedirect {
  readonly kind: RedirectKind;
  /** The file descriptor written before the operator (`2>`), if any. */
  readonly fd: string | null;
  /** The file (or descriptor, for `dup`); for a heredoc its delimiter; for a herestring the string. */
  readonly target: ShellWord;
  /** A heredoc's body, when it is static (quoted delimiter or no expansions in it). */
  readonly body?: string | null;
  /** Ids of commands substituted into a heredoc body. */
  readonly substitutions?: readonly number[];
}

/** Where a simple command sits in the script. */
export type CommandContext = "script" | "substitution" | "process-substitution" | "function-body";

/** One simple command: `name args…` with its assignments and redirections. */
export interface SimpleCommand {
  readonly id: number;
  /** The command name and arguments after quote removal; empty for a bare redirection (`> file`). */
  readonly argv: readonly ShellWord[];
  readonly assignments: readonly { readonly name: string; readonly value: ShellWord | null }[];
  readonly redirects: readonly ShellRedirect[];
  /** The command's source text. */
  readonly text: string;
  readonly context: CommandContext;
  /** Runs in the background (`&`). */
  readonly background: boolean;
}

/** A pipeline: the command ids of each stage, left to right (a stage may be a group of commands). */
export interface ShellPipeline {
  readonly stages: readonly (readonly number[])[];
}

export interface ShellProblem {
  readonly message: string;
  /** The text at the problem. */
  readonly at: string;
}

export interface ParsedShell {
  readonly source: string;
  /** Every simple command, including those inside substitutions, subshells and function bodies. */
  readonly commands: readonly SimpleCommand[];
  readonly pipelines: readonly ShellPipeline[];
  /** Functions the script defines: name → ids of the commands in its body. */
  readonly functions: ReadonlyMap<string, readonly number[]>;
  /** Variables assigned in the script: name → the assigned words. */
  readonly variables: ReadonlyMap<string, readonly ShellWord[]>;
  /** Anything the parser could not fully understand. Non-empty means: fail closed. */
  readonly problems: readonly ShellProblem[];
}

/** Longest command parsed; a longer one is a problem (fails closed) rather than a slow parse. */
export const MAX_SHELL_SOURCE = 64 * 1024;

/** Stands for `$HOME` while a word is assembled (a character no shell word contains). */
const HOME_MARK = "\u0000";
const REDIRECT_TYPES = new Set(["file_redirect", "heredoc_redirect", "herestring_redirect"]);
const STATIC_LEAVES = new Set(["word", "number", "string_content", "raw_string", "ansi_c_string"]);

/** A loaded bash parser; `parse` is synchronous. */
export class ShellParser {
  readonly #parser: Parser;

  private constructor(parser: Parser) {
    this.#parser = parser;
  }

  /** @internal Use `loadShellParser()`. */
  static create(parser: Parser): ShellParser {
    return new ShellParser(parser);
  }

  parse(source: string): ParsedShell {
    const builder = new Builder(source);
    if (source.length > MAX_SHELL_SOURCE) {
      builder.problem(`command is longer than ${MAX_SHELL_SOURCE} characters`, source.slice(0, 40));
      return builder.result();
    }
    const tree = this.#parser.parse(source);
    if (!tree) {
      builder.problem("the parser returned no tree", source.slice(0, 40));
      return builder.result();
    }
    try {
      builder.statements(tree.rootNode, "script", false);
      // An error the walk did not reach (inside a redirect operator, a test expression, …) still counts.
      if (tree.rootNode.hasError && builder.problems.length === 0)
        builder.problem("the command does not parse as shell", source);
    } finally {
      tree.delete();
    }
    return builder.result();
  }
}

let loading: Promise<ShellParser> | undefined;
let loaded: ShellParser | undefined;

/**
 * Loads tree-sitter and the bash grammar (shipped in the `tree-sitter-bash` npm package; nothing is
 * downloaded) once per process.
 *
 * @example
 * const parser = await loadShellParser();
 * parser.parse("rm -rf ./*").commands[0]?.argv.map((w) => w.value); // ["rm", "-rf", "./*"]
 */
export function loadShellParser(): Promise<ShellParser> {
  loading ??= (async () => {
    const { Parser: P, Language: L } = await import("web-tree-sitter");
    await P.init();
    const require = createRequire(import.meta.url);
    const language: Language = await L.load(require.resolve("tree-sitter-bash/tree-sitter-bash.wasm"));
    const parser = new P();
    parser.setLanguage(language);
    loaded = ShellParser.create(parser);
    return loaded;
  })();
  loading.catch(() => {
    loading = undefined; // let a later call try again; this one fails closed
  });
  return loading;
}

/** The parser if `loadShellParser()` has finished, so callers can stay synchronous. */
export function shellParserIfLoaded(): ShellParser | undefined {
  return loaded;
}

interface MutableCommand {
  id: number;
  argv: ShellWord[];
  assignments: { name: string; value: ShellWord | null }[];
  redirects: ShellRedirect[];
  text: string;
  context: CommandContext;
  background: boolean;
}

class Builder {
  readonly commands: MutableCommand[] = [];
  readonly pipelines: ShellPipeline[] = [];
  readonly functions = new Map<string, number[]>();
  readonly variables = new Map<string, ShellWord[]>();
  readonly problems: ShellProblem[] = [];

  constructor(readonly source: string) {}

  result(): ParsedShell {
    return {
      source: this.source,
      commands: this.commands,
      pipelines: this.pipelines,
      functions: this.functions,
      variables: this.variables,
      problems: this.problems,
    };
  }

  problem(message: string, at: string): void {
    this.problems.push({ message, at: at.length > 60 ? `${at.slice(0, 57)}...` : at });
  }

  /** Visits a node that contains statements; returns the ids of the commands it produced. */
  statements(node: Node, context: CommandContext, background: boolean): number[] {
    const ids: number[] = [];
    const children = node.children;
    for (let i = 0; i < children.length; i++) {
      const child = children[i] as Node;
      // `cmd &`: the `&` token follows the statement it backgrounds.
      const bg = background || children[i + 1]?.type === "&";
      ids.push(...this.statement(child, context, bg));
    }
    return ids;
  }

  statement(node: Node, context: CommandContext, background: boolean): number[] {
    if (node.isError || node.isMissing) {
      this.problem(
        node.isMissing ? `missing ${JSON.stringify(node.type)}` : "unparsable text",
        node.isMissing ? this.source.slice(Math.max(0, node.startIndex - 20), node.startIndex) : node.text,
      );
      if (node.isError) return this.statements(node, context, background);
      return [];
    }
    switch (node.type) {
      case "command":
        return [this.command(node, context, background, [])];
      case "redirected_statement":
        return this.redirected(node, context, background);
      case "variable_assignment":
      case "variable_assignments": {
        const assignments = this.assignmentsOf(node);
        if (assignments.length === 0) return [];
        return [this.push({ argv: [], assignments, redirects: [], text: node.text, context, background })];
      }
      case "pipeline": {
        const stages = node.namedChildren
          .filter((c) => c.type !== "comment")
          .map((c) => this.statement(c, context, background));
        this.pipelines.push({ stages });
        return stages.flat();
      }
      case "function_definition": {
        const name = node.childForFieldName("name")?.text ?? "";
        const body = node.childForFieldName("body");
        const ids = body ? this.statements(body, "function-body", false) : [];
        this.functions.set(name, ids);
        return ids;
      }
      case "comment":
      case ";":
      case "&":
      case "&&":
      case "||":
      case "|":
      case "|&":
      case "\n":
        return [];
      case "test_command":
      case "arithmetic_expansion":
        // Conditions run no command of their own, but may hold substitutions.
        this.substitutionsIn(node, context);
        return [];
      default:
        if (!node.isNamed) return [];
        // Compound statements (lists, subshells, if/for/while/case bodies, negation, …): their
        // simple commands are judged one by one; loop and case *values* are words that may hold
        // substitutions, which statements() reaches through their command nodes or substitutionsIn.
        if (["for_statement", "c_style_for_statement", "case_statement"].includes(node.type)) {
          for (const field of ["value", "condition", "initializer", "update"]) {
            for (const v of node.childrenForFieldName(field)) this.substitutionsIn(v, context);
          }
        }
        return this.statements(node, context, background);
    }
  }

  /** `body redirect…`; the body may be a simple command, a compound statement or nothing (`> f`). */
  redirected(node: Node, context: CommandContext, background: boolean): number[] {
    const body = node.childForFieldName("body");
    const redirects: ShellRedirect[] = [];
    const trailing: Node[] = [];
    for (const child of node.namedChildren) {
      if (REDIRECT_TYPES.has(child.type)) redirects.push(...this.redirect(child, context, trailing));
      else if (child.isError || child.isMissing) this.statement(child, context, background);
    }
    let ids: number[];
    if (body?.type === "command") {
      ids = [this.command(body, context, background, redirects)];
    } else {
      ids = body ? this.statement(body, context, background) : [];
      // A redirection of a compound statement applies to all of it: record it as its own entry.
      ids.push(this.push({ argv: [], assignments: [], redirects, text: node.text, context, background }));
    }
    // tree-sitter nests what follows a heredoc operator on its line (`cat <<EOF | sh`) inside the
    // heredoc node; a pipeline there continues the redirected command's pipeline.
    for (const extra of trailing) {
      if (extra.type === "pipeline") {
        const stages = [ids, ...extra.namedChildren.map((c) => this.statement(c, context, background))];
        this.pipelines.push({ stages });
        ids = stages.flat();
      } else ids.push(...this.statement(extra, context, background));
    }
    return ids;
  }

  command(node: Node, context: CommandContext, background: boolean, redirects: ShellRedirect[]): number {
    const argv: ShellWord[] = [];
    const assignments: { name: string; value: ShellWord | null }[] = [];
    const own: ShellRedirect[] = [];
    for (const child of node.namedChildren) {
      if (child.type === "variable_assignment") assignments.push(...this.assignmentsOf(child));
      else if (child.type === "command_name") {
        const inner = child.namedChildren[0];
        argv.push(inner ? this.word(inner, context) : this.literal(child.text));
      } else if (REDIRECT_TYPES.has(child.type)) own.push(...this.redirect(child, context, []));
      else if (child.type === "comment") continue;
      else if (child.isError || child.isMissing) this.statement(child, context, background);
      else argv.push(this.word(child, context));
    }
    return this.push({
      argv,
      assignments,
      redirects: [...own, ...redirects],
      text: node.text,
      context,
      background,
    });
  }

  push(command: Omit<MutableCommand, "id">): number {
    const id = this.commands.length;
    this.commands.push({ id, ...command });
    return id;
  }

  assignmentsOf(node: Node): { name: string; value: ShellWord | null }[] {
    if (node.type === "variable_assignments") return node.namedChildren.flatMap((c) => this.assignmentsOf(c));
    const name = node.childForFieldName("name")?.text ?? "";
    const valueNode = node.childForFieldName("value");
    const value = valueNode ? this.word(valueNode, "script") : null;
    const list = this.variables.get(name) ?? [];
    if (value) list.push(value);
    this.variables.set(name, list);
    return [{ name, value }];
  }

  redirect(node: Node, context: CommandContext, trailing: Node[]): ShellRedirect[] {
    const fdNode = node.namedChildren.find((c) => c.type === "file_descriptor");
    const fd = fdNode ? fdNode.text : null;
    if (node.type === "herestring_redirect") {
      const target = node.namedChildren.find((c) => c.type !== "file_descriptor");
      return [{ kind: "herestring", fd, target: target ? this.word(target, context) : this.literal("") }];
    }
    if (node.type === "heredoc_redirect") {
      const start = node.namedChildren.find((c) => c.type === "heredoc_start");
      const bodyNode = node.namedChildren.find((c) => c.type === "heredoc_body");
      const delimiter = start?.text ?? "";
      const quoted = /['"\\]/.test(delimiter);
      let body: string | null = bodyNode ? bodyNode.text : "";
      let substitutions: number[] = [];
      if (bodyNode && !quoted) {
        const dynamic = bodyNode.namedChildren.some((c) => c.type !== "heredoc_content");
        if (dynamic) {
          substitutions = this.substitutionsIn(bodyNode, context);
          body = null;
        }
      }
      for (const c of node.namedChildren) {
        if (!["heredoc_start", "heredoc_body", "heredoc_end", "file_descriptor"].includes(c.type))
          trailing.push(c);
      }
      return [{ kind: "heredoc", fd, target: this.literal(delimiter), body, substitutions }];
    }
    // file_redirect: the operator is the first unnamed child.
    const op = node.children.find((c) => !c.isNamed && c.type !== "file_descriptor")?.type ?? ">";
    const dest = node.childForFieldName("destination") ?? node.namedChildren.at(-1);
    const target = dest && dest.type !== "file_descriptor" ? this.word(dest, context) : this.literal("");
    const kind: RedirectKind =
      op === "<"
        ? "read"
        : op === "<>"
          ? "read-write"
          : op === ">>" || op === "&>>"
            ? "append"
            : op === ">&" || op === "<&" || op === ">&-" || op === "<&-"
              ? /^\d+$|^-$/.test(target.value ?? "")
                ? "dup"
                : "write"
              : "write";
    return [{ kind, fd, target }];
  }

  literal(text: string): ShellWord {
    return {
      value: text,
      raw: text,
      glob: false,
      substitutions: [],
      processSubstitution: false,
      variables: [],
    };
  }

  /** Resolves a word node to its value after quote removal, or null when it expands at run time. */
  word(node: Node, context: CommandContext): ShellWord {
    const substitutions: number[] = [];
    const variables: string[] = [];
    let processSubstitution = false;
    let glob = false;
    let dynamic = false;
    const visit = (n: Node): string => {
      if (n.isError || n.isMissing) {
        this.statement(n, context, false);
        dynamic = true;
        return "";
      }
      switch (n.type) {
        case "word":
        case "number": {
          if (hasUnquotedGlob(n.text)) glob = true;
          return unescapeUnquoted(n.text);
        }
        case "raw_string":
          return n.text.slice(1, -1);
        case "ansi_c_string":
          return decodeAnsiC(n.text.slice(2, -1));
        case "string_content":
          return unescapeDoubleQuoted(n.text);
        case "string":
        case "translated_string": {
          // A static string is taken from its source text: tree-sitter leaves leading and trailing
          // newlines out of string_content, and the value must be exactly what the shell sees.
          if (n.namedChildren.every((c) => c.type === "string_content"))
            return unescapeDoubleQuoted(n.text.slice(n.type === "string" ? 1 : 2, -1));
          let out = "";
          for (const c of n.namedChildren) out += visit(c);
          return out;
        }
        case "concatenation": {
          let out = "";
          for (const c of n.children) {
            if (c.isNamed) out += visit(c);
            else {
              if (hasUnquotedGlob(c.text)) glob = true;
              out += unescapeUnquoted(c.text);
            }
          }
          return out;
        }
        case "simple_expansion":
        case "expansion": {
          const v = n.namedChildren.find(
            (c) => c.type === "variable_name" || c.type === "special_variable_name",
          );
          if (v) variables.push(v.text);
          // `$HOME` / `${HOME}` is the home directory: keep it as `~` (resolved by the path rules)
          // so `rm -rf $HOME` and `cat $HOME/.ssh/id_rsa` are judged by what they name.
          if (n.text === "$HOME" || n.text === `$\{HOME}`) return HOME_MARK;
          this.substitutionsIn(n, context, substitutions);
          dynamic = true;
          return "";
        }
        case "command_substitution":
        case "process_substitution": {
          if (n.type === "process_substitution") processSubstitution = true;
          substitutions.push(
            ...this.statements(
              n,
              n.type === "command_substitution" ? "substitution" : "process-substitution",
              false,
            ),
          );
          dynamic = true;
          return "";
        }
        default:
          if (STATIC_LEAVES.has(n.type)) return n.text;
          // brace expressions, arithmetic, extglobs, …: expanded by the shell at run time.
          this.substitutionsIn(n, context, substitutions);
          if (n.type === "brace_expression") glob = true;
          dynamic = true;
          return "";
      }
    };
    let value = visit(node);
    if (value.includes(HOME_MARK)) {
      // Only where a path starts (the word's start, or after `@`, `=`, `:` as in `@$HOME/f`, `--x=$HOME`).
      const at = value.indexOf(HOME_MARK);
      const once = value.lastIndexOf(HOME_MARK) === at;
      if (once && (at === 0 || "@=:".includes(value[at - 1] as string)))
        value = value.replace(HOME_MARK, "~");
      else dynamic = true;
    }
    return {
      value: dynamic ? null : value,
      raw: node.text,
      glob,
      substitutions,
      processSubstitution,
      variables,
    };
  }

  /** Finds command and process substitutions anywhere under `node` and parses their commands. */
  substitutionsIn(node: Node, context: CommandContext, into: number[] = []): number[] {
    for (const c of node.namedChildren) {
      if (c.isError || c.isMissing) this.statement(c, context, false);
      else if (c.type === "command_substitution") into.push(...this.statements(c, "substitution", false));
      else if (c.type === "process_substitution")
        into.push(...this.statements(c, "process-substitution", false));
      else this.substitutionsIn(c, context, into);
    }
    return into;
  }
}
