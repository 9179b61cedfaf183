/**
 * Wrappers: programs that run another program (`sudo`, `env`, `nice`, `timeout`, `nohup`, `exec`,
 * `command`, `builtin`, `stdbuf`, `ionice`, `setsid`, `flock`, `watch`, `busybox`, …).
 */

import type { RiskLevel } from "../protocol/risk.js";
import type { ShellWord } from "./shell-words.js";

/** Variables that change which program runs or what it loads. */
export const LOADER_VARIABLES =
  /^(LD_PRELOAD|LD_LIBRARY_PATH|LD_AUDIT|DYLD_.*|PATH|BASH_ENV|ENV|PROMPT_COMMAND|SHELLOPTS|PS4|IFS|GIT_SSH|GIT_SSH_COMMAND|GIT_EXEC_PATH|GIT_EXTERNAL_DIFF|GIT_PAGER|GIT_EDITOR|GIT_ASKPASS|GIT_CONFIG.*|NODE_OPTIONS|PYTHONSTARTUP|PYTHONPATH|PERL5OPT|PERL5LIB|RUBYOPT|PAGER|EDITOR|VISUAL|LESSOPEN|BROWSER)$/;

/** What a wrapper may do to the command being judged. */
export interface WrapperHost {
  add(level: RiskLevel, reason: string, rule: string): void;
  scriptWord(word: ShellWord, how: string): unknown;
  nestedScript(text: string): void;
}

/**
 * The command a wrapper runs, `done` if the wrapper was fully judged, or null if `name` is no wrapper.
 * `sudo`/`doas`/`pkexec`/`su` are BLOCK themselves; the rest are looked through.
 */
export function unwrap(
  j: WrapperHost,
  name: string,
  args: readonly ShellWord[],
): readonly ShellWord[] | "done" | null {
  const skip = (valued: readonly string[], bare: readonly string[] = []) => {
    let i = 0;
    for (; i < args.length; i++) {
      const v = args[i]?.value;
      if (v === null || v === undefined) break;
      if (v === "--") return args.slice(i + 1);
      if (valued.includes(v)) i++;
      else if (
        v.startsWith("-") &&
        (bare.length === 0 || bare.includes(v) || /^-[a-zA-Z]+$/.test(v) || v.includes("="))
      )
        continue;
      else break;
    }
    return args.slice(i);
  };
  switch (name) {
    case "sudo":
    case "doas":
    case "pkexec":
    case "run0":
      j.add("BLOCK", `${name} escalates privileges`, "shell:privilege-escalation");
      return skip(["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T"]);
    case "su": {
      j.add("BLOCK", "su escalates privileges", "shell:privilege-escalation");
      const c = args.findIndex((a) => a.value === "-c" || a.value === "--command");
      const script = c >= 0 ? args[c + 1] : undefined;
      if (script) j.scriptWord(script, "su -c");
      return "done";
    }
    case "env": {
      const out: ShellWord[] = [];
      let i = 0;
      for (; i < args.length; i++) {
        const w = args[i] as ShellWord;
        const v = w.value;
        if (v === null) break;
        if (v === "-u" || v === "--unset" || v === "-C" || v === "--chdir") i++;
        else if (v === "-S" || v === "--split-string") {
          const s = args[i + 1];
          if (s) j.scriptWord(s, "env -S");
          return "done";
        } else if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) {
          const key = v.slice(0, v.indexOf("="));
          if (LOADER_VARIABLES.test(key))
            j.add("HIGH", `sets ${key}, which changes what programs run or load`, "shell:loader-variable");
        } else if (v.startsWith("-") && v !== "-") continue;
        else break;
      }
      out.push(...args.slice(i));
      return out.length > 0 ? out : null;
    }
    case "nice":
      return skip(["-n", "--adjustment"]);
    case "nohup":
    case "builtin":
    case "setsid":
    case "unbuffer":
    case "caffeinate":
    case "catchsegv":
      return skip([]);
    case "time":
      return skip(["-f", "--format", "-o", "--output"]);
    case "command": {
      const f = args.map((a) => a.value);
      if (f.includes("-v") || f.includes("-V")) {
        j.add("LOW", "command -v looks a program up", "shell:harmless:command");
        return "done";
      }
      return skip([]);
    }
    case "exec":
      if (args.length === 0) return null;
      return skip(["-a"]);
    case "timeout": {
      const rest = skip(["-s", "--signal", "-k", "--kill-after"]);
      return rest.slice(1);
    }
    case "stdbuf":
      return skip(["-i", "-o", "-e"]);
    case "ionice":
      return skip(["-c", "-n", "-p", "-P", "-u"]);
    case "chrt":
      return skip(["-p"]).slice(1);
    case "taskset":
      return skip([]).slice(1);
    case "flock":
      return skip(["-w", "-E", "--timeout", "--conflict-exit-code"]).slice(1);
    case "watch": {
      // watch joins its arguments and runs them with sh -c.
      const rest = skip(["-n", "--interval", "-d", "--differences"]);
      const dynamic = rest.find((w) => w.value === null);
      if (dynamic) j.scriptWord(dynamic, "watch");
      else if (rest.length > 0) j.nestedScript(rest.map((w) => w.value).join(" "));
      j.add("LOW", "watch re-runs a command", "shell:wrapper:watch");
      return "done";
    }
    case "busybox":
      return args.length > 0 ? args : null;
    default:
      return null;
  }
}
