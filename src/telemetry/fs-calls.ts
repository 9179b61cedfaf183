import { fstat, open, type Stats } from "node:fs";

// node:fs callback calls as promises, for the audit writer (no FileHandle objects: these run once per
// run of every session). Kept out of the modules whose types are public, so rein's .d.ts needs no Node types.

/** `open(2)` on the libuv pool. */
export function openFd(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) =>
    open(path, flags, 0o600, (err, fd) => (err ? reject(err) : resolve(fd))),
  );
}

/** `fstat(2)` on the libuv pool. */
export function fstatFd(fd: number): Promise<Stats> {
  return new Promise((resolve, reject) => fstat(fd, (err, s) => (err ? reject(err) : resolve(s))));
}
