import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { BpfProgram, DATA, encode, type Instruction, OP } from "../../../src/sandbox/bubblewrap/bpf.js";
import {
  CLONE_NAMESPACE_FLAGS,
  DENIED_SYSCALLS,
  ENOSYS,
  EPERM,
  SECCOMP_RET,
  seccompFilter,
  seccompProgram,
} from "../../../src/sandbox/bubblewrap/seccomp.js";
import { AUDIT_ARCH, type SeccompArch, SYSCALLS } from "../../../src/sandbox/bubblewrap/syscalls.js";

/** A classic-BPF interpreter for the opcodes the filter uses, over a seccomp_data record. */
function evaluate(
  program: readonly Instruction[],
  data: { nr: number; arch: number; args?: number[] },
): number {
  const word = (off: number): number => {
    if (off === DATA.nr) return data.nr >>> 0;
    if (off === DATA.arch) return data.arch >>> 0;
    const i = (off - 16) / 8;
    if (Number.isInteger(i) && i >= 0 && i < 6) return (data.args?.[i] ?? 0) >>> 0;
    throw new Error(`load at ${off}`);
  };
  let a = 0;
  for (let pc = 0; pc < program.length; ) {
    const insn = program[pc]!;
    switch (insn.code) {
      case OP.LD_W_ABS:
        a = word(insn.k);
        pc++;
        break;
      case OP.ALU_AND_K:
        a = (a & insn.k) >>> 0;
        pc++;
        break;
      case OP.JEQ_K:
        pc += 1 + (a === insn.k ? insn.jt : insn.jf);
        break;
      case OP.JGE_K:
        pc += 1 + (a >= insn.k ? insn.jt : insn.jf);
        break;
      case OP.JSET_K:
        pc += 1 + ((a & insn.k) !== 0 ? insn.jt : insn.jf);
        break;
      case OP.RET_K:
        return insn.k;
      default:
        throw new Error(`opcode ${insn.code}`);
    }
  }
  throw new Error("fell off the end");
}

const DENY = (SECCOMP_RET.ERRNO | EPERM) >>> 0;
const ARCHES: SeccompArch[] = ["x86_64", "aarch64"];

describe("BPF assembler", () => {
  it("resolves forward labels to relative offsets", () => {
    const p = new BpfProgram().load(0).jeq(5, { label: "hit" }).ret(1).label("hit").ret(2).assemble();
    expect(p[1]).toEqual({ code: OP.JEQ_K, jt: 1, jf: 0, k: 5 });
    expect(evaluate(p, { nr: 5, arch: 0 })).toBe(2);
    expect(evaluate(p, { nr: 6, arch: 0 })).toBe(1);
  });

  it("refuses a backward jump, an unknown label, a duplicate label and a program without a final return", () => {
    expect(() => new BpfProgram().label("a").load(0).jeq(1, { label: "a" }).ret(0).assemble()).toThrow(
      /out of range/,
    );
    expect(() => new BpfProgram().jeq(1, { label: "nowhere" }).ret(0).assemble()).toThrow(/unknown label/);
    expect(() => new BpfProgram().label("a").label("a").ret(0).assemble()).toThrow(/defined twice/);
    expect(() => new BpfProgram().load(0).assemble()).toThrow(/must end with a return/);
  });

  it("refuses a jump longer than 255 instructions", () => {
    const p = new BpfProgram().load(0).jeq(1, { label: "far" });
    for (let i = 0; i < 256; i++) p.load(0);
    expect(() => p.label("far").ret(0).assemble()).toThrow(/out of range/);
  });

  it("encodes struct sock_filter little-endian, 8 bytes per instruction", () => {
    const bytes = encode([{ code: 0x15, jt: 1, jf: 2, k: 0xc000003e }]);
    expect([...bytes]).toEqual([0x15, 0x00, 0x01, 0x02, 0x3e, 0x00, 0x00, 0xc0]);
  });
});

describe.each(ARCHES)("seccomp filter for %s", (arch) => {
  const program = seccompProgram(arch);
  const nr = SYSCALLS[arch];
  const run = (name: string, args: number[] = []) =>
    evaluate(program, { nr: nr[name]!, arch: AUDIT_ARCH[arch], args });

  it("checks the architecture first and kills any other ABI", () => {
    expect(program[0]).toEqual({ code: OP.LD_W_ABS, jt: 0, jf: 0, k: DATA.arch });
    const other = arch === "x86_64" ? AUDIT_ARCH.aarch64 : AUDIT_ARCH.x86_64;
    expect(evaluate(program, { nr: 0, arch: other })).toBe(SECCOMP_RET.KILL_PROCESS);
    expect(evaluate(program, { nr: 0, arch: 0x40000003 /* i386 */ })).toBe(SECCOMP_RET.KILL_PROCESS);
  });

  it("answers EPERM for every denied syscall that exists on the architecture", () => {
    const present = DENIED_SYSCALLS.filter((n) => nr[n] !== undefined);
    expect(present.length).toBeGreaterThan(40);
    for (const name of present) expect(run(name), name).toBe(DENY);
  });

  it("allows ordinary syscalls (read, write, openat-like numbers that are not denied)", () => {
    const denied = new Set(DENIED_SYSCALLS.map((n) => nr[n]).filter((n) => n !== undefined));
    for (const n of [0, 1, 2, 3, 57, 59, 60, 63, 64, 93, 94, 221, 231]) {
      if (denied.has(n) || Object.values(nr).includes(n)) continue;
      expect(evaluate(program, { nr: n, arch: AUDIT_ARCH[arch] }), String(n)).toBe(SECCOMP_RET.ALLOW);
    }
  });

  it("clone: namespace flags are EPERM, a plain fork is allowed; clone3 is ENOSYS", () => {
    expect(run("clone", [0x10000000 | 17])).toBe(DENY);
    expect(run("clone", [CLONE_NAMESPACE_FLAGS])).toBe(DENY);
    expect(run("clone", [0x01200011 /* fork's flags */])).toBe(SECCOMP_RET.ALLOW);
    expect(run("unshare", [0x40000000])).toBe(DENY);
    expect(run("unshare", [0x00000400 /* CLONE_FILES */])).toBe(SECCOMP_RET.ALLOW);
    expect(run("clone3")).toBe((SECCOMP_RET.ERRNO | ENOSYS) >>> 0);
  });

  it("socket: AF_UNIX, AF_VSOCK, AF_PACKET, SOCK_RAW and SOCK_PACKET are EPERM; TCP and UDP are allowed", () => {
    expect(run("socket", [1, 1])).toBe(DENY);
    expect(run("socket", [40, 1])).toBe(DENY);
    expect(run("socket", [17, 3])).toBe(DENY);
    expect(run("socket", [2, 3])).toBe(DENY);
    expect(run("socket", [2, 3 | 0x80000 /* SOCK_CLOEXEC */])).toBe(DENY);
    expect(run("socket", [2, 10])).toBe(DENY);
    expect(run("socket", [2, 1])).toBe(SECCOMP_RET.ALLOW);
    expect(run("socket", [10, 2])).toBe(SECCOMP_RET.ALLOW);
  });

  it("with allowUnixSockets (the egress proxy), AF_UNIX is allowed and the rest still denied", () => {
    const p = seccompProgram(arch, { allowUnixSockets: true });
    const r = (args: number[]) => evaluate(p, { nr: nr.socket!, arch: AUDIT_ARCH[arch], args });
    expect(r([1, 1])).toBe(SECCOMP_RET.ALLOW);
    expect(r([40, 1])).toBe(DENY);
  });

  it("ioctl: TIOCSTI and TIOCLINUX are EPERM, others allowed", () => {
    expect(run("ioctl", [0, 0x5412])).toBe(DENY);
    expect(run("ioctl", [0, 0x541c])).toBe(DENY);
    expect(run("ioctl", [0, 0x5401 /* TCGETS */])).toBe(SECCOMP_RET.ALLOW);
  });

  it("is what bwrap reads: the encoded bytes are the program", () => {
    expect(seccompFilter(arch).length).toBe(program.length * 8);
  });
});

describe("x86_64 only", () => {
  it("kills x32-ABI syscalls (bit 30 set)", () => {
    const program = seccompProgram("x86_64");
    expect(evaluate(program, { nr: 0x40000000 | 39, arch: AUDIT_ARCH.x86_64 })).toBe(
      SECCOMP_RET.KILL_PROCESS,
    );
  });
});

describe("syscall tables agree with libseccomp (scmp_sys_resolver, installed by scripts/setup-test-env.sh)", () => {
  it.each(ARCHES)("%s", (arch) => {
    const names = Object.keys(SYSCALLS[arch]);
    const r = spawnSync(
      "sh",
      ["-c", `for n in ${names.join(" ")}; do scmp_sys_resolver -a ${arch} $n; done`],
      {
        encoding: "utf8",
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n").map(Number)).toEqual(names.map((n) => SYSCALLS[arch][n]));
    // Names absent from the table really do not exist there (libseccomp gives a negative pseudo-number).
    for (const name of DENIED_SYSCALLS.filter((n) => SYSCALLS[arch][n] === undefined)) {
      const one = spawnSync("scmp_sys_resolver", ["-a", arch, name], { encoding: "utf8" });
      expect(Number(one.stdout.trim()), name).toBeLessThan(0);
    }
  });
});
