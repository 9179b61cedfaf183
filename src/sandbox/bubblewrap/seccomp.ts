import { BpfProgram, DATA, encode, type Instruction } from "./bpf.js";
import { AUDIT_ARCH, type SeccompArch, SYSCALLS } from "./syscalls.js";

/** seccomp return actions (linux/seccomp.h). */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  ERRNO: 0x00050000,
  ALLOW: 0x7fff0000,
} as const;
export const EPERM = 1;
export const ENOSYS = 38;

/**
 * Syscalls the sandboxed command may never make: each answers EPERM. They let a process debug or read
 * another one (ptrace, process_vm_*), change mounts or namespaces, load kernel code (modules, kexec,
 * bpf), reach the kernel keyring, use io_uring (which bypasses seccomp for the operations it carries),
 * perf events, userfaultfd (a common exploit aid), file handles (open_by_handle_at walks out of a
 * mount), and host-wide clock, swap, reboot, accounting and quota controls.
 */
export const DENIED_SYSCALLS = [
  "ptrace",
  "process_vm_readv",
  "process_vm_writev",
  "mount",
  "umount2",
  "pivot_root",
  "chroot",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "move_mount",
  "open_tree",
  "mount_setattr",
  "setns",
  "keyctl",
  "add_key",
  "request_key",
  "init_module",
  "finit_module",
  "delete_module",
  "kexec_load",
  "kexec_file_load",
  "bpf",
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
  "perf_event_open",
  "userfaultfd",
  "open_by_handle_at",
  "name_to_handle_at",
  "lookup_dcookie",
  "reboot",
  "swapon",
  "swapoff",
  "acct",
  "quotactl",
  "quotactl_fd",
  "nfsservctl",
  "syslog",
  "settimeofday",
  "clock_settime",
  "clock_adjtime",
  "adjtimex",
  "uselib",
  "iopl",
  "ioperm",
] as const;

/** Namespace flags of clone/unshare: creating any namespace is refused (nested user namespaces above all). */
export const CLONE_NAMESPACE_FLAGS =
  0x00020000 | // CLONE_NEWNS
  0x02000000 | // CLONE_NEWCGROUP
  0x04000000 | // CLONE_NEWUTS
  0x08000000 | // CLONE_NEWIPC
  0x10000000 | // CLONE_NEWUSER
  0x20000000 | // CLONE_NEWPID
  0x40000000 | // CLONE_NEWNET
  0x00000080; // CLONE_NEWTIME
export const AF_UNIX = 1;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;
export const AF_VSOCK = 40;
export const SOCK_RAW = 3;
export const SOCK_PACKET = 10;
/** Terminal ioctls that inject input into, or control, the controlling terminal. */
export const TIOCSTI = 0x5412;
export const TIOCLINUX = 0x541c;

export interface SeccompOptions {
  /** Allow new AF_UNIX sockets (needed to reach the egress proxy's Unix socket). Default false. */
  readonly allowUnixSockets?: boolean;
}

/**
 * The deny-list filter for one architecture. The architecture is checked first: a syscall made
 * through another ABI (i386 `int 0x80` or x32 on x86_64) kills the process, since its numbers differ.
 * On a matched rule the syscall fails with EPERM (clone3 with ENOSYS, so libc falls back to clone,
 * whose flags the filter can inspect); everything else is allowed.
 */
export function seccompProgram(arch: SeccompArch, options: SeccompOptions = {}): Instruction[] {
  const nr = SYSCALLS[arch];
  const p = new BpfProgram();
  const deny = { label: "deny" };
  const kill = { label: "kill" };
  p.load(DATA.arch).jeq(AUDIT_ARCH[arch], "next", kill);
  p.load(DATA.nr);
  // x32 syscalls on x86_64 carry bit 30; they reach the same kernel code under other numbers.
  if (arch === "x86_64") p.jge(0x40000000, kill);
  for (const name of DENIED_SYSCALLS) {
    const n = nr[name];
    if (n !== undefined) p.jeq(n, deny);
  }
  p.jeq(nr.clone3 as number, { label: "enosys" });
  p.jeq(nr.clone as number, { label: "clone" });
  p.jeq(nr.unshare as number, { label: "clone" });
  p.jeq(nr.socket as number, { label: "socket" });
  p.jeq(nr.ioctl as number, { label: "ioctl" });
  p.ret(SECCOMP_RET.ALLOW);

  // clone(flags, ...) and unshare(flags): flags are the first argument on both architectures.
  p.label("clone").load(DATA.argLow(0)).jset(CLONE_NAMESPACE_FLAGS, deny);
  p.ret(SECCOMP_RET.ALLOW);

  // socket(domain, type, protocol)
  p.label("socket").load(DATA.argLow(0));
  if (!options.allowUnixSockets) p.jeq(AF_UNIX, deny);
  p.jeq(AF_VSOCK, deny).jeq(AF_PACKET, deny);
  p.load(DATA.argLow(1)).and(0xf); // the type without SOCK_NONBLOCK / SOCK_CLOEXEC
  p.jeq(SOCK_RAW, deny).jeq(SOCK_PACKET, deny);
  p.ret(SECCOMP_RET.ALLOW);

  // ioctl(fd, cmd, ...): the kernel reads cmd as 32 bits, so comparing the low word is exact.
  p.label("ioctl").load(DATA.argLow(1)).jeq(TIOCSTI, deny).jeq(TIOCLINUX, deny);
  p.ret(SECCOMP_RET.ALLOW);

  p.label("enosys").ret(SECCOMP_RET.ERRNO | ENOSYS);
  p.label("deny").ret(SECCOMP_RET.ERRNO | EPERM);
  p.label("kill").ret(SECCOMP_RET.KILL_PROCESS);
  return p.assemble();
}

/** The filter as the bytes `bwrap --seccomp FD` reads. */
export function seccompFilter(arch: SeccompArch, options: SeccompOptions = {}): Buffer {
  return encode(seccompProgram(arch, options));
}

/** The architecture of this process, or undefined where Rein has no syscall table for it. */
export function hostSeccompArch(): SeccompArch | undefined {
  if (process.arch === "x64") return "x86_64";
  if (process.arch === "arm64") return "aarch64";
  return undefined;
}
