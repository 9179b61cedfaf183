/**
 * The program a warm Pyodide interpreter is: a Node process inside bubblewrap that loads Pyodide,
 * says it is ready, waits for one job on stdin, runs it, and exits. Used once: the process ends with
 * the job. Pyodide is no sandbox by itself (Python reaches Node's `process`, `fs` and `net` through
 * `import js`), so everything this process can reach is what bubblewrap lets it see.
 *
 * Self-contained on purpose: only this file is bound into the sandbox (read-only), with node and the
 * pyodide package. argv: <pyodide package dir> <workspace>.
 *
 * Protocol: stdout starts with READY_MARKER once Pyodide is loaded; stdin carries one JSON job
 * `{ code, cwd, env }` and is then closed; the program's stdout and stderr go to the process's own, and
 * the exit status is the program's (1 for an uncaught exception, `sys.exit(n)` gives n).
 */
import { writeSync } from "node:fs";

/** Must equal READY_MARKER in pyodide-sandbox.ts (this file imports nothing of Rein's). */
const READY_MARKER = "\u0000rein-pyodide-ready\n";

interface Job {
  readonly code: string;
  readonly cwd: string;
  readonly env: Record<string, string>;
}

const WRAPPER = `
import os, sys, traceback
from pyodide.code import eval_code_async
async def __rein_main(src, cwd, env):
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        await eval_code_async(src, {"__name__": "__main__"}, filename="<code>")
        return 0
    except SystemExit as e:
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code
        print(e.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
__rein_main
`;

async function main(): Promise<void> {
  const [pyodideDir, workspace] = process.argv.slice(2);
  if (!pyodideDir || !workspace) throw new Error("usage: pyodide-runner <pyodide dir> <workspace>");
  const { loadPyodide } = (await import(`${pyodideDir}/pyodide.mjs`)) as typeof import("pyodide");
  const write = (fd: number) => ({
    write(buf: Uint8Array): number {
      writeSync(fd, buf);
      return buf.length;
    },
  });
  const py = await loadPyodide({
    indexURL: `${pyodideDir}/`,
    env: { HOME: "/tmp" },
    stdin: () => null,
  });
  py.setStdout(write(1));
  py.setStderr(write(2));
  py.mountNodeFS(workspace, workspace);
  const run = py.runPython(WRAPPER) as (src: string, cwd: string, env: unknown) => Promise<number>;
  writeSync(1, READY_MARKER);

  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const job = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Job;
  const env = py.toPy(job.env);
  const status = await run(job.code, job.cwd, env);
  process.exit(typeof status === "number" ? status : 1);
}

main().catch((err: unknown) => {
  writeSync(2, `rein pyodide runner: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(70);
});
