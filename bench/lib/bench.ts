/** The contract between `bench/run.ts` and each benchmark module. */

export interface BenchOptions {
  /** `--quick`: smaller sizes and one repetition, for smoke tests. */
  readonly quick: boolean;
  /** Other `--name value` flags from the command line, for the benchmark to interpret. */
  readonly flags: Readonly<Record<string, string>>;
  /** Progress output (stderr), so stdout keeps only the tables. */
  log(message: string): void;
}

export interface Table {
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Printed under the table: legends and explanations. */
  readonly notes?: readonly string[];
}

export interface BenchOutput {
  readonly tables: readonly Table[];
  /** Everything measured, machine-readable; written to `bench/results/<name>-<date>.json`. */
  readonly json: unknown;
}

export interface Benchmark {
  readonly name: string;
  readonly description: string;
  run(options: BenchOptions): Promise<BenchOutput>;
}

/**
 * Renders a table as aligned plain text; numbers, ranges and ratios are right-aligned. A row shorter
 * than the header is a remark: its last cell runs on without widening its column.
 */
export function formatTable(table: Table): string {
  const fits = (row: readonly string[], i: number) =>
    row.length === table.header.length || i < row.length - 1;
  const widths = table.header.map((h, i) =>
    Math.max(h.length, ...table.rows.map((r) => (fits(r, i) ? (r[i] ?? "").length : 0))),
  );
  const numeric = /^-?[\d.]+(–[\d.]+)?×?$/;
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => {
        const width = fits(cells, i) ? (widths[i] ?? 0) : 0;
        return numeric.test(cell) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  const out = [table.title, line(table.header), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const row of table.rows) out.push(line(row));
  for (const note of table.notes ?? []) out.push(note);
  return out.join("\n");
}
