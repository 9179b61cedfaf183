import { createRequire } from "node:module";
import { errorMessage, StoreError } from "../protocol/errors.js";

/** The part of a synchronous SQLite binding the store uses. */
export interface Statement {
  run(...params: unknown[]): { changes: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
export interface Database {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  /** Runs `fn` in a `BEGIN IMMEDIATE` transaction: committed if it returns, rolled back if it throws. */
  immediate<R>(fn: () => R): R;
  close(): void;
}

interface NodeSqlite {
  DatabaseSync: new (
    file: string,
    options?: { timeout?: number },
  ) => { prepare(sql: string): Statement; exec(sql: string): void; close(): void; isTransaction: boolean };
}

let driver: NodeSqlite | undefined;

/**
 * Opens `file` with Node's built-in SQLite (`node:sqlite`, Node >= 22.13): no native addon to build,
 * loaded on first use so `import "rein"` stays light. (better-sqlite3 12.x aborts the process on
 * Node 24 when a statement is garbage-collected after its database closed: `Assertion failed:
 * (env) != nullptr` in `Statement::~Statement`, reproduced here in the store's tests.)
 */
export function openDatabase(file: string, busyTimeoutMs: number): Database {
  if (!driver) {
    try {
      driver = createRequire(import.meta.url)("node:sqlite") as NodeSqlite;
    } catch (err) {
      throw new StoreError(
        "REIN_STORE_UNAVAILABLE",
        `The SQLite store needs Node's built-in node:sqlite (Node >= 22.13), which did not load in Node ${process.version}: ${errorMessage(err)}.`,
      );
    }
  }
  let db: InstanceType<NodeSqlite["DatabaseSync"]>;
  try {
    db = new driver.DatabaseSync(file, { timeout: busyTimeoutMs });
  } catch (err) {
    throw new StoreError("REIN_STORE_FAILED", `Cannot open the SQLite store ${file}: ${errorMessage(err)}`, {
      file,
    });
  }
  // Prepared once: a transaction's BEGIN and COMMIT are not parsed again for every batch.
  let begin: Statement | undefined;
  let commit: Statement | undefined;
  return {
    prepare: (sql) => db.prepare(sql),
    exec: (sql) => db.exec(sql),
    close: () => db.close(),
    immediate<R>(fn: () => R): R {
      begin ??= db.prepare("BEGIN IMMEDIATE");
      commit ??= db.prepare("COMMIT");
      begin.run();
      let result: R;
      try {
        result = fn();
      } catch (err) {
        if (db.isTransaction) db.exec("ROLLBACK");
        throw err;
      }
      commit.run();
      return result;
    },
  };
}
