import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { MemoryStore } from "../../src/state/memory-store.js";
import { SqliteStore } from "../../src/state/sqlite-store.js";
import { storeContract } from "../../src/testing/store-contract.js";

const dir = mkdtempSync(join(tmpdir(), "rein-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storeContract({ name: "MemoryStore", create: () => new MemoryStore() });
storeContract({ name: "SqliteStore", create: () => SqliteStore.open(join(dir, `s${++n}.db`)) });
