import type { ReservationRefusal } from "../guards/ledger.js";
import { describeAnswer } from "../protocol/answers.js";
import type { StopReason } from "../protocol/stop-reason.js";

/**
 * What a ledger's `reserve` answered: nothing (reserved), a well-formed refusal (a ceiling would be
 * crossed: the run stops with `cost_ceiling` before the call is made), or anything else, which is a
 * broken ledger and stops the run with `REIN_LEDGER_FAILED` (fail closed: nothing runs unreserved).
 */
export function reservationStop(answer: unknown, what: string): StopReason | undefined {
  if (answer === undefined) return undefined;
  const r = answer as Partial<ReservationRefusal> | null;
  if (
    typeof r === "object" &&
    r !== null &&
    r.refused === true &&
    typeof r.account === "string" &&
    typeof r.spentUsd === "number"
  ) {
    const limitUsd = typeof r.limitUsd === "number" ? r.limitUsd : null;
    const limitTokens = typeof r.limitTokens === "number" ? r.limitTokens : undefined;
    const spentTokens = typeof r.spentTokens === "number" ? r.spentTokens : 0;
    const limit = limitUsd !== null ? `$${limitUsd} ceiling` : `${limitTokens ?? "?"}-token ceiling`;
    const spent =
      limitUsd !== null
        ? `$${fmt(r.spentUsd)} spent + $${fmt(r.reservedUsd ?? 0)} reserved + $${fmt(r.estimateUsd ?? 0)} worst case`
        : `${spentTokens} spent + ${r.reservedTokens ?? 0} reserved + ${r.estimateTokens ?? 0} worst case`;
    return {
      type: "cost_ceiling",
      limitUsd,
      spentUsd: r.spentUsd,
      budget: r.account,
      ...(limitTokens !== undefined ? { limitTokens, spentTokens } : {}),
      diagnostic: `${what} was refused before it was made: ${spent} would cross the ${r.account} budget's ${limit}`,
    };
  }
  return {
    type: "error",
    code: "REIN_LEDGER_FAILED",
    message: `the ledger answered a reservation with ${describeAnswer(answer)} (fail closed: the call was not made)`,
  };
}

function fmt(usd: number): string {
  return usd === 0 ? "0" : usd.toFixed(usd < 0.01 ? 6 : 4);
}
