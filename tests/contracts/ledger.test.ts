import { BudgetGuard, MemoryLedger } from "../../src/index.js";
import { ledgerContract } from "../../src/testing.js";

ledgerContract({ name: "MemoryLedger", create: () => new MemoryLedger() });
// The ledger a budget guard gives the loop (its ceilings far above anything the checks spend).
ledgerContract({
  name: "a budget guard's ledger over a MemoryLedger",
  create: () => new BudgetGuard(new MemoryLedger(), { session: { maxCostUsd: 1e9 } }).ledgerFor(),
});
