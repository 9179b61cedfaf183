import { MemoryLedger } from "../../src/index.js";
import { ledgerContract } from "../../src/testing.js";

ledgerContract({ name: "MemoryLedger", create: () => new MemoryLedger() });
