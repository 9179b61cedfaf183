/** What Rein knows about network programs: downloads, uploads of local files, raw sockets, remote shells. */

import type { CommandHandler } from "../command-catalog.js";
import { flags, operands, optionValues } from "../command-context.js";
import type { ShellWord } from "../shell-words.js";

/** curl/wget: a download is MEDIUM; every URL goes through the egress policy; uploads are HIGH. */
export const fetcher: CommandHandler = (c) => {
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

export const rawSocket: CommandHandler = (c) => {
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

export const remoteShell: CommandHandler = (c) => {
  c.add(
    "HIGH",
    `${c.name} reaches another machine (remote commands or file transfer)`,
    "shell:remote-access",
  );
  for (const w of operands(c.args)) if (w.value !== null && !w.value.includes(":")) c.touch(w, "read");
};
