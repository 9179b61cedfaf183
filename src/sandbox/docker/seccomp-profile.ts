import {
  AF_PACKET,
  AF_UNIX,
  AF_VSOCK,
  CLONE_NAMESPACE_FLAGS,
  DENIED_SYSCALLS,
  ENOSYS,
  EPERM,
  SOCK_PACKET,
  SOCK_RAW,
  TIOCLINUX,
  TIOCSTI,
} from "../bubblewrap/seccomp.js";

interface Arg {
  readonly index: number;
  readonly value: number;
  readonly valueTwo: number;
  readonly op: "SCMP_CMP_EQ" | "SCMP_CMP_MASKED_EQ";
}
interface Rule {
  readonly names: readonly string[];
  readonly action: "SCMP_ACT_ERRNO";
  readonly errnoRet: number;
  readonly args?: readonly Arg[];
}

const deny = (names: readonly string[], args?: readonly Arg[], errnoRet = EPERM): Rule => ({
  names,
  action: "SCMP_ACT_ERRNO",
  errnoRet,
  ...(args ? { args } : {}),
});
const masked = (index: number, mask: number, value: number): Arg => ({
  index,
  value: mask,
  valueTwo: value,
  op: "SCMP_CMP_MASKED_EQ",
});

/**
 * The Docker seccomp profile of Rein's docker and gvisor sandboxes: the bubblewrap sandbox's deny list
 * (bubblewrap/seccomp.ts) in Docker's JSON form, so both backends refuse the same syscalls with the same
 * errors. It replaces Docker's default profile, whose version depends on the engine (Debian 12's 20.10
 * allows io_uring, ptrace and AF_VSOCK sockets, to the hypervisor). Only the native architecture is
 * listed: a syscall through another ABI (i386, x32) kills the process.
 */
export function dockerSeccompProfile(
  arch: "x86_64" | "aarch64",
  o: { readonly allowUnixSockets?: boolean } = {},
): string {
  const rules: Rule[] = [deny(DENIED_SYSCALLS), deny(["clone3"], undefined, ENOSYS)];
  // Any namespace flag on clone/unshare: one rule per bit (rules on one syscall are OR'ed).
  for (let bit = 1; bit <= 0x80000000; bit *= 2) {
    if ((CLONE_NAMESPACE_FLAGS & bit) !== 0) rules.push(deny(["clone", "unshare"], [masked(0, bit, bit)]));
  }
  // AF_UNIX only in proxy mode: the egress proxy's socket is bound in, and the container has no other.
  for (const family of o.allowUnixSockets ? [AF_VSOCK, AF_PACKET] : [AF_UNIX, AF_VSOCK, AF_PACKET])
    rules.push(deny(["socket"], [{ index: 0, value: family, valueTwo: 0, op: "SCMP_CMP_EQ" }]));
  for (const type of [SOCK_RAW, SOCK_PACKET]) rules.push(deny(["socket"], [masked(1, 0xf, type)]));
  for (const cmd of [TIOCSTI, TIOCLINUX]) rules.push(deny(["ioctl"], [masked(1, 0xffffffff, cmd)]));
  return JSON.stringify({
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: [arch === "x86_64" ? "SCMP_ARCH_X86_64" : "SCMP_ARCH_AARCH64"],
    syscalls: rules,
  });
}
