import type { Command, Option } from "commander";
import { UsageError } from "../protocol/errors.js";

const SHELLS = ["bash", "zsh", "fish"] as const;

/** `rein completion bash|zsh|fish`: a completion script built from the registered commands and flags. */
export function registerCompletionCommand(cli: Command): void {
  cli
    .command("completion")
    .description('print a shell completion script: eval "$(rein completion bash)" (or zsh; fish: | source)')
    .argument("<shell>", SHELLS.join(", "))
    .action((shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell))
        throw new UsageError(`rein completion supports ${SHELLS.join(", ")}, not "${shell}".`);
      process.stdout.write(completionScript(cli, shell as (typeof SHELLS)[number]));
    });
}

interface Node {
  /** Command path without "rein": "" for the root, "sandbox exec" for a nested one. */
  readonly path: string;
  readonly command: Command;
}

function walk(cli: Command): Node[] {
  const nodes: Node[] = [];
  const visit = (command: Command, path: string) => {
    nodes.push({ path, command });
    for (const sub of command.commands) visit(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  visit(cli, "");
  return nodes;
}

const flagsOf = (c: Command) =>
  [...(c.options as readonly Option[]).flatMap((o) => [o.long, o.short]), "--help"].filter(
    (f): f is string => typeof f === "string",
  );

/** Shell words are our own names and flags ([a-z0-9-]); quoted all the same. */
const sh = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

export function completionScript(cli: Command, shell: (typeof SHELLS)[number]): string {
  const nodes = walk(cli);
  if (shell === "fish") return fishScript(nodes);
  const table = nodes
    .map(({ path, command }) => {
      const words = [...command.commands.map((c) => c.name()), ...flagsOf(command)];
      return `  [${sh(path || "_")}]=${sh(words.join(" "))}`;
    })
    .join("\n");
  const body = `# rein ${shell} completion: eval "$(rein completion ${shell})"
_rein_complete() {
  # zsh's bash emulation counts COMP_CWORD from 0, as bash does: index its arrays from 0 too.
  [[ -n "\${ZSH_VERSION:-}" ]] && setopt localoptions ksharrays
  local -A table=(
${table}
  )
  local cur="\${COMP_WORDS[COMP_CWORD]}" key="" next w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ $w == -* ]] && continue
    next="\${key:+$key }$w"
    [[ -n "\${table[$next]+x}" ]] && key="$next"
  done
  COMPREPLY=($(compgen -W "\${table[\${key:-_}]}" -- "$cur"))
}
complete -o default -F _rein_complete rein
`;
  // zsh runs the bash function through its bash-completion emulation.
  return shell === "zsh"
    ? `autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n${body}`
    : body;
}

function fishScript(nodes: Node[]): string {
  const lines = ["# rein fish completion: rein completion fish | source", "complete -c rein -f"];
  for (const { path, command } of nodes) {
    const parents = path ? path.split(" ") : [];
    // A node's subcommands are offered once its path is typed and no child of it yet.
    const at =
      parents.length === 0
        ? "__fish_use_subcommand"
        : `__fish_seen_subcommand_from ${parents.at(-1)}; and not __fish_seen_subcommand_from ${command.commands.map((c) => c.name()).join(" ") || "__none__"}`;
    for (const sub of command.commands)
      lines.push(
        `complete -c rein -n ${sh(at)} -a ${sh(sub.name())} -d ${sh(sub.description().slice(0, 80))}`,
      );
    const flagCondition =
      parents.length === 0 ? "__fish_use_subcommand" : `__fish_seen_subcommand_from ${parents.at(-1)}`;
    for (const option of command.options as readonly Option[]) {
      if (!option.long) continue;
      lines.push(
        `complete -c rein -n ${sh(flagCondition)} -l ${sh(option.long.replace(/^--/, ""))}${option.required || option.optional ? " -r" : ""} -d ${sh(option.description.slice(0, 80))}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
