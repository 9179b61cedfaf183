import { statSync } from "node:fs";
import path from "node:path";
import { SandboxError } from "../../protocol/errors.js";
import { refuseSystemFolder } from "../system-folders.js";

/**
 * Ids Rein hands out when it runs as root over a root-owned workspace: one fresh uid/gid per sandbox,
 * far above login users and the usual subordinate-id ranges. A shared id (such as nobody) would let
 * sandboxes of different sessions count against each other's RLIMIT_NPROC — one session's fork bomb
 * making every other sandbox's fork fail — and own each other's files.
 */
export const SANDBOX_ID_BASE = 1_600_000_000;
const SANDBOX_ID_SPAN = 1 << 28;
let allocated = 0;

/** A uid/gid no other live sandbox of this process uses (and, by the pid in it, very likely of any other). */
export function allocateSandboxId(): { uid: number; gid: number } {
  const slot = (((process.pid & 0xffff) << 12) | (allocated++ & 0xfff)) % SANDBOX_ID_SPAN;
  const id = SANDBOX_ID_BASE + slot;
  return { uid: id, gid: id };
}

/** Who the sandboxed command runs as, on the host and inside (the same ids: the user namespace maps them 1:1). */
export interface SandboxIdentity {
  readonly uid: number;
  readonly gid: number;
  /** Rein is root: drop to `uid`/`gid` (setpriv) before bubblewrap starts, so no step runs as host root inside. */
  readonly dropFromRoot: boolean;
  /** Hand workspace entries to `uid`/`gid` before each command (files Rein created as root, or a root-owned workspace). */
  readonly chownWorkspace: boolean;
  /**
   * The workspace's path has a folder the sandbox user cannot traverse (e.g. under /root): bubblewrap
   * cannot open it as that user, so root bind-mounts it to a traversable staging point in a private
   * mount namespace first.
   */
  readonly privateMount: boolean;
}

/**
 * Never host uid 0 inside: as root, the sandbox runs as `requested`, else the workspace's owner when
 * that is not root, else a fresh id of its own (allocateSandboxId); as any other user, as that user.
 */
export function chooseIdentity(workspace: string, requested?: { uid: number; gid: number }): SandboxIdentity {
  const self = { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
  if (self.uid !== 0) {
    return { ...self, dropFromRoot: false, chownWorkspace: false, privateMount: false };
  }
  if (requested && (requested.uid === 0 || requested.gid === 0))
    throw new SandboxError("The sandbox user must not be root (uid 0 / gid 0); pick an unprivileged id.", {
      requested,
    });
  refuseSystemFolder(workspace);
  const owner = statSync(workspace);
  const id = requested ?? (owner.uid !== 0 ? { uid: owner.uid, gid: owner.gid } : allocateSandboxId());
  return {
    ...id,
    dropFromRoot: true,
    chownWorkspace: true,
    privateMount: !traversable(workspace, id),
  };
}

/** Whether `id` can search every folder from / down to and including `dir` (mode bits; root's ACLs aside). */
export function traversable(dir: string, id: { uid: number; gid: number }): boolean {
  const parts: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    parts.push(d);
    if (d === path.dirname(d)) break;
  }
  return parts.every((d) => {
    const st = statSync(d);
    if (st.uid === id.uid) return (st.mode & 0o100) !== 0;
    if (st.gid === id.gid) return (st.mode & 0o010) !== 0;
    return (st.mode & 0o001) !== 0;
  });
}
