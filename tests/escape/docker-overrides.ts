import type { ProbeOverride } from "./probes.js";

export const DOCKER_OVERRIDES: Readonly<Record<string, ProbeOverride>> = {};
export const GVISOR_OVERRIDES: Readonly<Record<string, ProbeOverride>> = {};
