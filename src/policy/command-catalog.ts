/**
 * What Rein knows about individual programs: each handler looks at the parsed arguments (never the
 * raw string) and says what the command does. Programs not listed here are HIGH (unknown).
 * Levels: read-only commands LOW; reversible workspace writes and running project code MEDIUM;
 * recursive deletes, force pushes, credential reads, persistence HIGH; privilege escalation,
 * destroying `/`, `~` or devices, reverse shells, writes to system paths BLOCK.
 */

import { type CommandContext, flags, operands, words, wordValue } from "./command-context.js";
import {
  awk,
  chmod,
  copyLike,
  dd,
  find,
  harmless,
  readOnly,
  rm,
  rsync,
  sed,
  sortCmd,
  tar,
  tee,
  writesOperands,
  xargs,
} from "./commands/files.js";
import { git } from "./commands/git.js";
import { interpreter, projectTool } from "./commands/interpreters.js";
import { fetcher, rawSocket, remoteShell } from "./commands/network.js";
import {
  containers,
  credentialCli,
  destroyDevice,
  kill,
  persistence,
  privilege,
  recon,
  systemControl,
} from "./commands/system.js";

export { stdinScript } from "./commands/interpreters.js";

export type CommandHandler = (c: CommandContext) => void;

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
