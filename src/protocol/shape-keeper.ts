/**
 * Objects kept for the process's life, so V8 keeps their shapes. V8 holds object shapes weakly: once
 * no live object has a shape (between one harness and the next), the compiled code that checks it is
 * thrown away, and the next harness runs that code unoptimised until it is compiled again. A module
 * that builds such objects on a hot path keeps one of each here at load.
 *
 * The list is read by {@link keepShapes}, so V8 keeps it in this module's context: a top-level
 * constant that no function reads is only a local of the module's evaluation, collected (with all it
 * holds) as soon as the module is loaded.
 */
const kept: object[] = [];

/** Keeps `objects` for the process's life (see above). */
export function keepShapes(...objects: object[]): void {
  kept.push(...objects);
}
