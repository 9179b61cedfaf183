/** Risk levels, lowest to highest. LOW runs, MEDIUM runs and is logged, HIGH needs approval, BLOCK never runs. */
export const RISK_LEVELS = ["LOW", "MEDIUM", "HIGH", "BLOCK"] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

/** What a tool declares about itself. */
export interface RiskProfile {
  readonly level: RiskLevel;
  readonly reason: string;
}

/** A classification of one call: the level, why, and which rule decided it. */
export interface RiskAssessment {
  readonly level: RiskLevel;
  readonly reason: string;
  readonly rule: string;
}

export function riskRank(level: RiskLevel): number {
  return RISK_LEVELS.indexOf(level);
}

/** The higher of two levels. Stages can raise a level, never lower it. */
export function maxRisk(a: RiskLevel, b: RiskLevel): RiskLevel {
  return riskRank(a) >= riskRank(b) ? a : b;
}
