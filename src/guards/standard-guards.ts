import { ConfigError } from "../protocol/errors.js";
import { BudgetGuard, type BudgetOptions } from "./budget-guard.js";
import { CircuitBreaker, type CircuitBreakerOptions } from "./circuit-breaker.js";
import type { Guard } from "./guard.js";
import type { Ledger } from "./ledger.js";
import { StallDetector, type StallOptions } from "./stall-detector.js";
import { TaintGuard, type TaintOptions } from "./taint-guard.js";

/** The `guards` of a harness config: the built-in guards by name, plus your own. */
export interface GuardsConfig {
  readonly budget?: BudgetOptions;
  /** `true` for the defaults. */
  readonly stall?: true | StallOptions;
  readonly circuitBreaker?: true | CircuitBreakerOptions;
  readonly taint?: true | TaintOptions;
  /** Your own guards, called after the built-in ones. */
  readonly custom?: readonly Guard[];
}

/**
 * Builds the guards a harness runs, in order: budget, circuit breaker, stall, taint, then custom
 * ones; and the ledger sessions use (the same ledger, with the budget's ceilings checked on every
 * reservation). `runCeilings` are `limits.maxCostUsd` / `limits.maxTokens`.
 */
export function standardGuards(
  ledger: Ledger,
  config: GuardsConfig,
  runCeilings: { maxCostUsd?: number; maxTokens?: number },
): { guards: Guard[]; ledger: Ledger; budget: BudgetGuard | undefined } {
  const guards: Guard[] = [];
  let budgetOptions = config.budget;
  if (runCeilings.maxCostUsd !== undefined || runCeilings.maxTokens !== undefined) {
    if (config.budget?.run)
      throw new ConfigError(
        "config: give the run's ceilings once, in limits.maxCostUsd/maxTokens or in guards.budget.run, not both.",
        { field: "guards.budget.run" },
      );
    budgetOptions = { ...config.budget, run: runCeilings };
  }
  let budget: BudgetGuard | undefined;
  let sessionLedger = ledger;
  if (budgetOptions) {
    budget = new BudgetGuard(ledger, budgetOptions);
    if (budget.ceilings.length > 0) {
      guards.push(budget);
      sessionLedger = budget.ledgerFor(ledger);
    } else budget = undefined;
  }
  if (config.circuitBreaker)
    guards.push(new CircuitBreaker(config.circuitBreaker === true ? {} : config.circuitBreaker));
  if (config.stall) guards.push(new StallDetector(config.stall === true ? {} : config.stall));
  if (config.taint) guards.push(new TaintGuard(config.taint === true ? {} : config.taint));
  guards.push(...(config.custom ?? []));
  return { guards, ledger: sessionLedger, budget };
}
