import { resolve } from "node:path";
import type { Command } from "commander";
import { ConfigError, SessionError } from "../protocol/errors.js";
import type { SessionRecord, Store } from "../state/store.js";
import { terminalSafeJson, terminalSafeText } from "./terminal-text.js";

const TENANT = "local";

async function withStore<T>(spec: string, fn: (store: Store) => T): Promise<T> {
  // Loaded here, not at registration: `rein --help` loads no subsystem.
  const { openStore, storeSpec } = await import("./store-spec.js");
  const store = await openStore(storeSpec(spec, process.cwd()));
  try {
    return fn(store);
  } finally {
    await store.close();
  }
}

function record(store: Store, id: string): SessionRecord {
  const r = store.sessions.get({ tenantId: TENANT, sessionId: id });
  if (!r)
    throw new SessionError(
      "REIN_SESSION_NOT_FOUND",
      `No session ${JSON.stringify(id)} in ${(store as { file?: string }).file ?? (store as { url?: string }).url}.`,
      {
        sessionId: id,
      },
    );
  return r;
}

function line(r: SessionRecord): string {
  const task = r.task ?? "";
  return terminalSafeText(
    `${r.sessionId}  ${r.status.padEnd(15)}  ${new Date(r.updatedAt).toISOString()}  seq ${String(r.lastSeq).padStart(5)}  ${task.length > 60 ? `${task.slice(0, 57)}…` : task}`,
  );
}

/** `rein sessions list|show|resume|export`: sessions kept in the SQLite store. */
export function registerSessionsCommand(cli: Command): void {
  const sessions = cli.command("sessions").description("sessions kept in the store (.rein/rein.db)");
  sessions
    .command("list")
    .description("list sessions, most recent first")
    .option("--json", "print the records as JSON")
    .option("--store <file|url>", "the store: a SQLite file or a redis:// URL", ".rein/rein.db")
    .action(async (o) => {
      const list = await withStore(o.store, (s) => s.sessions.list({ tenantId: TENANT }));
      if (o.json) process.stdout.write(`${terminalSafeJson(JSON.stringify(list))}\n`);
      else if (list.length === 0) process.stdout.write("no sessions\n");
      else for (const r of list) process.stdout.write(`${line(r)}\n`);
    });

  sessions
    .command("show")
    .description("a session's record, its event counts and its pending approvals")
    .argument("<id>", "the session id (rein run prints it)")
    .option("--json", "print as JSON")
    .option("--store <file|url>", "the store: a SQLite file or a redis:// URL", ".rein/rein.db")
    .action(async (id: string, o) => {
      const shown = await withStore(o.store, (s) => {
        const r = record(s, id);
        const events: Record<string, number> = {};
        for (const e of s.eventLog.read({ tenantId: TENANT, sessionId: id }, 0))
          events[e.type] = (events[e.type] ?? 0) + 1;
        const approvals = s.approvals
          .list({ tenantId: TENANT })
          .filter((a) => a.sessionId === id)
          .map((a) => ({ id: a.id, status: a.status, tool: a.tool, risk: a.risk.level }));
        return { ...r, events, approvals };
      });
      if (o.json) process.stdout.write(`${terminalSafeJson(JSON.stringify(shown))}\n`);
      else {
        process.stdout.write(
          `${line(shown)}\nmodel ${terminalSafeText(shown.model)}  workspace ${terminalSafeText(String(shown.workspace))}\n`,
        );
        for (const [type, count] of Object.entries(shown.events))
          process.stdout.write(`  ${type}: ${count}\n`);
        for (const a of shown.approvals)
          process.stdout.write(terminalSafeText(`  approval ${a.id} ${a.status} ${a.tool} (${a.risk})\n`));
      }
    });

  sessions
    .command("export")
    .description("write a session's events as JSON lines, in seq order")
    .argument("<id>", "the session id")
    .option("--store <file|url>", "the store: a SQLite file or a redis:// URL", ".rein/rein.db")
    .action(async (id: string, o) => {
      const events = await withStore(o.store, (s) => {
        record(s, id);
        return s.eventLog.read({ tenantId: TENANT, sessionId: id }, 0);
      });
      // A closed pipe (`| head`) ends the export quietly.
      process.stdout.on("error", () => {});
      for (const e of events) process.stdout.write(`${JSON.stringify(e)}\n`);
    });

  sessions
    .command("resume")
    .description("continue a session's last run after a crash or once its approvals are decided")
    .argument("<id>", "the session id")
    .option("--model <model>", "the model (default: the one the session used)")
    .option("--workspace <dir>", "the workspace (default: the one the session used)")
    .option("--json", "print events as JSON lines on stdout instead of the live view")
    .option("--audit-dir <dir>", "where audit trails are written", ".rein/audit")
    .option("--no-audit", "do not write an audit trail")
    .option("--sandbox <backend>", "bubblewrap or none (NO isolation); default: the run's")
    .option("--approvals <gate>", "terminal or durable (default: durable)", "durable")
    .option("--store <file|url>", "the store: a SQLite file or a redis:// URL", ".rein/rein.db")
    .action(async (id: string, o) => {
      await withStore(o.store, (s) => record(s, id));
      // The run's own settings (model spec, workspace, sandbox, trust), as `rein run` kept them.
      const { executeRun, readRunSpec } = await import("./execute-run.js");
      const { storeSpec } = await import("./store-spec.js");
      const storeFile = storeSpec(o.store, process.cwd());
      const spec = readRunSpec(storeFile, id);
      const model = o.model ?? spec?.model;
      if (!model)
        throw new ConfigError(
          `Session ${id}: give --model (the run's model is not recorded beside the store).`,
          {
            field: "model",
          },
        );
      process.exitCode = await executeRun({
        task: "",
        resume: id,
        model,
        workspace: resolve(o.workspace ?? spec?.workspace ?? "."),
        json: Boolean(o.json),
        auditDir: o.audit === false ? false : resolve(o.auditDir),
        sandbox: o.sandbox ?? spec?.sandbox ?? "bubblewrap",
        ...(spec?.trust ? { trust: spec.trust } : {}),
        ...(spec?.policyFile ? { policyFile: spec.policyFile } : {}),
        ...(spec?.system !== undefined ? { system: spec.system } : {}),
        ...(spec?.maxTurns !== undefined ? { maxTurns: spec.maxTurns } : {}),
        storeFile,
        durableApprovals: o.approvals === "durable",
      });
    });
}
