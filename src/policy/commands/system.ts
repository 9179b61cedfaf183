/** What Rein knows about programs that act on the machine: privileges, disks, services, processes, containers, clouds. */

import type { CommandHandler } from "../command-catalog.js";
import { operands, wordValue } from "../command-context.js";

export const privilege: CommandHandler = (c) => {
  c.add("BLOCK", `${c.name} escalates privileges`, "shell:privilege-escalation");
};

export const destroyDevice: CommandHandler = (c) => {
  c.add("BLOCK", `${c.name} destroys file systems or disks`, "shell:destroy-device");
};

export const systemControl: CommandHandler = (c) => {
  c.add("BLOCK", `${c.name} stops or reconfigures the machine`, "shell:system-control");
};

export const persistence =
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

export const kill: CommandHandler = (c) => {
  const targets = operands(c.args).map((w) => w.value);
  if (targets.some((t) => t === null || t === "1" || t === "-1" || t === "0"))
    return c.add("HIGH", "kill targets every process or init", "shell:kill-all");
  if (c.args.some((a) => a.value === "-1"))
    return c.add("HIGH", "kill -1 targets every process", "shell:kill-all");
  c.add("MEDIUM", "kill stops a process", "shell:kill");
};

export const containers: CommandHandler = (c) => {
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

export const credentialCli: CommandHandler = (c) => {
  const values = c.args.map((a) => a.value ?? "").join(" ");
  if (
    /(^| )(configure get|configure export-credentials|auth (print-access-token|print-identity-token|token)|credential (fill|get)|get-session-token|get-secret-value|secrets? (get|show|read)|find-(generic|internet)-password|account get-access-token)/.test(
      values,
    )
  )
    return c.add("HIGH", `${c.name} prints credentials`, "shell:credential-read");
  c.add("HIGH", `${c.name} acts on cloud resources with the user's credentials`, "shell:cloud-cli");
};

export const recon: CommandHandler = (c) =>
  c.add(
    "MEDIUM",
    `${c.name} reveals user, system or network details (reconnaissance is logged)`,
    "shell:recon",
  );
