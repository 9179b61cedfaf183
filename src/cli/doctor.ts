import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { resolve } from "node:path";
import { findConfigFile, loadConfig } from "../config/config-file.js";
import { errorMessage } from "../protocol/errors.js";
import { terminalSafeText } from "./terminal-text.js";

/** ok: ready; warn: optional and missing (a feature is unavailable); fail: Rein cannot work as configured. */
export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
}

/** The environment variables holding credentials Rein reads; doctor says whether each is set, never its value. */
export const KEY_VARIABLES = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "REIN_AUDIT_KEY"] as const;

function version(command: string, args: string[]): string | undefined {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 5_000 });
  if (r.error || r.status !== 0) return undefined;
  return (r.stdout || r.stderr).trim().split("\n")[0];
}

/** A TCP connection to host:port within timeoutMs (Redis answers PING with +PONG). */
function redisAnswers(url: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((done) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      done(undefined);
      return;
    }
    const socket = connect({ host: parsed.hostname || "127.0.0.1", port: Number(parsed.port || 6379) });
    let reply = "";
    const finish = (value: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      done(value);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      reply += d.toString("latin1");
      if (reply.includes("\r\n")) finish(reply.split("\r\n")[0]);
    });
    socket.on("error", () => finish(undefined));
  });
}

export async function runChecks(options: {
  readonly config?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}): Promise<Check[]> {
  const checks: Check[] = [];
  const major = Number(process.versions.node.split(".")[0]);
  checks.push({
    name: "node",
    status: major >= 22 ? "ok" : "fail",
    detail: `${process.versions.node}${major >= 22 ? "" : " (Rein needs >= 22; tested on 24)"}`,
  });
  const bwrap = version("bwrap", ["--version"]);
  checks.push({
    name: "bubblewrap",
    status: bwrap ? "ok" : "fail",
    detail:
      bwrap ?? "not found: the default sandbox of run_shell/run_code needs it (apt-get install bubblewrap)",
  });
  const docker = version("docker", ["version", "--format", "{{.Server.Version}}"]);
  checks.push({
    name: "docker",
    status: docker ? "ok" : "warn",
    detail: docker ? `engine ${docker}` : "no Docker engine answers (optional)",
  });
  const redisUrl = options.env.REDIS_URL?.trim() || "redis://127.0.0.1:6379";
  const pong = await redisAnswers(redisUrl, 1_000);
  const shownUrl = (() => {
    try {
      const u = new URL(redisUrl);
      u.password = "";
      u.username = "";
      return u.toString();
    } catch {
      return "(REDIS_URL is not a URL)";
    }
  })();
  checks.push({
    name: "redis",
    status: pong ? "ok" : "warn",
    detail: pong ? `${shownUrl} answers ${pong}` : `nothing answers at ${shownUrl} (optional)`,
  });
  const file =
    options.config !== undefined ? resolve(options.cwd, options.config) : findConfigFile(options.cwd);
  if (!file) checks.push({ name: "config", status: "ok", detail: "no rein.config.* here (defaults apply)" });
  else if (!existsSync(file))
    checks.push({ name: "config", status: "fail", detail: `${file} does not exist` });
  else {
    try {
      const config = await loadConfig(file);
      const tools = config.tools?.length ? `, ${config.tools.length} tool(s)` : "";
      checks.push({ name: "config", status: "ok", detail: `${file} is valid${tools}` });
    } catch (err) {
      checks.push({ name: "config", status: "fail", detail: errorMessage(err).split("\n").join(" ") });
    }
  }
  for (const key of KEY_VARIABLES) {
    const set = (options.env[key]?.trim() ?? "") !== "";
    checks.push({
      name: key,
      status: set || key === "REIN_AUDIT_KEY" ? "ok" : "warn",
      detail: set ? "set" : "not set",
    });
  }
  return checks;
}

/** Exit 1 when a check failed, else 0 (warnings are optional features). */
export async function doctorCommand(o: { json: boolean; config?: string }): Promise<number> {
  const checks = await runChecks({ config: o.config, env: process.env, cwd: process.cwd() });
  const ok = !checks.some((c) => c.status === "fail");
  if (o.json) process.stdout.write(`${JSON.stringify({ type: "doctor", ok, checks })}\n`);
  else {
    const width = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks)
      process.stdout.write(`${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${terminalSafeText(c.detail)}\n`);
  }
  return ok ? 0 : 1;
}
