import { userInfo } from "node:os";
import { type Command, InvalidArgumentError } from "commander";
import type { ApprovalRecord, Store } from "../state/store.js";
import { terminalSafeJson, terminalSafeText } from "./terminal-text.js";

/** `--approvals <gate>`: terminal or durable. */
export function approvalsGate(value: string): "terminal" | "durable" {
  if (value !== "terminal" && value !== "durable")
    throw new InvalidArgumentError(`--approvals must be terminal or durable, got "${value}".`);
  return value;
}

function scopeOption(value: string): "once" | "session" {
  if (value !== "once" && value !== "session")
    throw new InvalidArgumentError(`--scope must be once or session, got "${value}".`);
  return value;
}

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

function line(r: ApprovalRecord): string {
  const when = new Date(r.expiresAt).toISOString();
  const input = JSON.stringify(r.input);
  return terminalSafeText(
    `${r.id}  ${r.status.padEnd(8)}  ${r.risk.level.padEnd(6)}  ${r.tool} ${input.length > 80 ? `${input.slice(0, 77)}…` : input}  session ${r.sessionId}  expires ${when}`,
  );
}

/** `rein approvals list`, `rein approve <id>`, `rein deny <id>`: decide durable approvals from any process. */
export function registerApprovalsCommand(cli: Command): void {
  const approvals = cli.command("approvals").description("pending approvals of durable sessions");
  approvals
    .command("list")
    .description("list pending approvals (all of them with --all)")
    .option("--json", "print the records as JSON")
    .option("--all", "include decided and expired approvals")
    .option("--store <file|url>", "the store: a SQLite file or a redis:// URL", ".rein/rein.db")
    .action(async (o) => {
      const records = await withStore(o.store, (s) => s.approvals.list(o.all ? {} : { status: "pending" }));
      if (o.json) process.stdout.write(`${terminalSafeJson(JSON.stringify(records))}\n`);
      else if (records.length === 0) process.stdout.write("no pending approvals\n");
      else for (const r of records) process.stdout.write(`${line(r)}\n`);
    });

  cli
    .command("approve")
    .description("approve a pending call; then `rein sessions resume <session>` runs it, exactly once")
    .argument("<id>", "the approval id (rein approvals list)")
    .option(
      "--scope <scope>",
      "once (this call) or session (these exact arguments for the session)",
      scopeOption,
      "once",
    )
    .option("--args-hash <sha256>", "refuse unless the request's arguments hash is this one")
    .option("--by <name>", "who decides (default: the user name)")
    .option("--store <file|url>", "the store: a SQLite file or a redis:// URL", ".rein/rein.db")
    .action(async (id: string, o) => {
      const r = await withStore(o.store, (s) =>
        s.approvals.decide(
          id,
          { outcome: "approved", scope: o.scope },
          { by: o.by ?? userInfo().username, ...(o.argsHash ? { argsHash: o.argsHash } : {}) },
        ),
      );
      process.stdout.write(
        `${line(r)}\nresume with: rein sessions resume ${terminalSafeText(r.sessionId)}\n`,
      );
    });

  cli
    .command("deny")
    .description("deny a pending call; the model is told the reason")
    .argument("<id>", "the approval id (rein approvals list)")
    .requiredOption("--reason <text>", "why (the model reads it)")
    .option("--args-hash <sha256>", "refuse unless the request's arguments hash is this one")
    .option("--by <name>", "who decides (default: the user name)")
    .option("--store <file|url>", "the store: a SQLite file or a redis:// URL", ".rein/rein.db")
    .action(async (id: string, o) => {
      const r = await withStore(o.store, (s) =>
        s.approvals.decide(
          id,
          { outcome: "denied", reason: o.reason },
          { by: o.by ?? userInfo().username, ...(o.argsHash ? { argsHash: o.argsHash } : {}) },
        ),
      );
      process.stdout.write(
        `${line(r)}\nresume with: rein sessions resume ${terminalSafeText(r.sessionId)}\n`,
      );
    });
}
