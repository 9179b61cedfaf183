/** A one-line progress bar for `rein eval`, drawn only on a terminal: a pipe or a file gets nothing. */
import type { EvalProgress } from "./runner.js";

export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * A progress callback that redraws one line on `stream`, or undefined when `stream` is not a TTY
 * (CI logs stay clean). Call the returned `end()` after the eval to finish the line.
 *
 * @example
 * const bar = progressBar(process.stderr);
 * await runEval(suite, { onProgress: bar?.update });
 * bar?.end();
 */
export function progressBar(
  stream: ProgressStream,
  width = 30,
): { update: (p: EvalProgress) => void; end: () => void } | undefined {
  if (stream.isTTY !== true) return undefined;
  let drawn = false;
  return {
    update(p) {
      const filled = p.total === 0 ? width : Math.round((p.done / p.total) * width);
      const bar = "█".repeat(filled) + "░".repeat(width - filled);
      const skipped = p.skipped ? ` ${p.skipped} not run` : "";
      stream.write(
        `\r\x1b[2K${bar} ${p.done}/${p.total}  ✓ ${p.passed}  ✗ ${p.failed}  ! ${p.errors}${skipped}`,
      );
      drawn = true;
    },
    end() {
      if (drawn) stream.write("\n");
    },
  };
}
