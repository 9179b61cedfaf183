import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { INIT_GONE_EXIT, INIT_PROBE } from "./container-spec.js";
import { statusOf } from "./engine.js";

/**
 * The longest Rein waits for the engine to report a container stopped after execs into it stopped
 * starting. Only reached when the container lives on and the engine refuses execs for another reason;
 * a container whose init is gone is reported within milliseconds.
 */
export const STOP_SETTLE_MS = 30_000;

/**
 * Runs a short command in the container as `user`, output discarded; its exit code, or undefined when
 * the engine or the runtime could not start it (the container stopping, or the engine failing).
 */
export async function runQuiet(
  container: Docker.Container,
  cmd: readonly string[],
  user: { readonly uid: number; readonly gid: number },
): Promise<number | undefined> {
  try {
    const exec = await container.exec({
      Cmd: [...cmd],
      User: `${user.uid}:${user.gid}`,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = (await exec.start({ hijack: true, stdin: false })) as Duplex;
    await new Promise<void>((resolve) => {
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", () => resolve());
      stream.resume();
    });
    const info = await exec.inspect();
    // A runtime that fails to start the process reports 126/127 with its message as output.
    return typeof info.ExitCode === "number" && info.Running === false ? info.ExitCode : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the container has stopped, decided by what cannot race: the init probe, run in the
 * container, reads pid 1's state (gone or a zombie: stopped; alive: not). When the probe cannot even
 * start (the runtime refuses execs once init is gone, before the engine has reaped the container), the
 * engine's own state decides: stopped, or `exited` settles (the engine's wait on the container), within
 * `settleMs`; a container still running after that is not stopped (the engine fails for another reason).
 */
export async function containerStopped(
  container: Docker.Container,
  user: { readonly uid: number; readonly gid: number },
  exited: Promise<void>,
  settleMs: number,
): Promise<boolean> {
  const probe = await runQuiet(container, INIT_PROBE, user);
  if (probe === 0) return false;
  if (probe === INIT_GONE_EXIT) return true;
  try {
    const info = await container.inspect();
    if (!info.State.Running) return true;
  } catch (err) {
    if (statusOf(err) === 404) return true;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), settleMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
