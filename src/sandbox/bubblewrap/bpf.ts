/**
 * A small assembler for classic BPF as seccomp uses it: load a 32-bit word of `seccomp_data`, compare,
 * jump forward, return an action. Jumps name labels and are resolved to the 8-bit relative offsets the
 * kernel wants; a jump backwards or further than 255 instructions is refused (the kernel would reject it).
 */

/** Opcodes (linux/bpf_common.h). */
export const OP = {
  LD_W_ABS: 0x20, // A = seccomp_data[k] (32 bits)
  ALU_AND_K: 0x54, // A &= k
  JEQ_K: 0x15, // if A == k
  JGE_K: 0x35, // if A >= k
  JSET_K: 0x45, // if A & k
  RET_K: 0x06, // return k
} as const;

/** Offsets into `struct seccomp_data`. `args[i]` is 64 bits; its low word is at 16 + 8i (little-endian). */
export const DATA = {
  nr: 0,
  arch: 4,
  argLow: (i: number) => 16 + 8 * i,
} as const;

/** A jump target: the next instruction, or a label defined later in the program. */
export type Target = "next" | { readonly label: string };

type Line =
  | { readonly kind: "label"; readonly name: string }
  | {
      readonly kind: "insn";
      readonly code: number;
      readonly k: number;
      readonly jt: Target;
      readonly jf: Target;
    };

export interface Instruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

export class BpfProgram {
  readonly #lines: Line[] = [];

  label(name: string): this {
    this.#lines.push({ kind: "label", name });
    return this;
  }
  load(offset: number): this {
    return this.#insn(OP.LD_W_ABS, offset);
  }
  and(mask: number): this {
    return this.#insn(OP.ALU_AND_K, mask);
  }
  /** if A == k goto jt else goto jf */
  jeq(k: number, jt: Target, jf: Target = "next"): this {
    return this.#insn(OP.JEQ_K, k, jt, jf);
  }
  jge(k: number, jt: Target, jf: Target = "next"): this {
    return this.#insn(OP.JGE_K, k, jt, jf);
  }
  jset(k: number, jt: Target, jf: Target = "next"): this {
    return this.#insn(OP.JSET_K, k, jt, jf);
  }
  ret(action: number): this {
    return this.#insn(OP.RET_K, action);
  }

  /** Resolves labels; throws on an unknown or duplicate label, a backward or too-long jump. */
  assemble(): Instruction[] {
    const at = new Map<string, number>();
    let n = 0;
    for (const line of this.#lines) {
      if (line.kind === "insn") n++;
      else if (at.has(line.name)) throw new Error(`BPF: label ${line.name} defined twice`);
      else at.set(line.name, n);
    }
    const out: Instruction[] = [];
    const offset = (t: Target, i: number): number => {
      if (t === "next") return 0;
      const target = at.get(t.label);
      if (target === undefined) throw new Error(`BPF: unknown label ${t.label}`);
      const rel = target - (i + 1);
      if (rel < 0 || rel > 255) throw new Error(`BPF: jump from ${i} to ${t.label} (${rel}) out of range`);
      return rel;
    };
    for (const line of this.#lines) {
      if (line.kind !== "insn") continue;
      const i = out.length;
      out.push({ code: line.code, k: line.k >>> 0, jt: offset(line.jt, i), jf: offset(line.jf, i) });
    }
    if (out.length === 0 || out.length > 4096) throw new Error(`BPF: ${out.length} instructions`);
    const last = out[out.length - 1];
    if (last?.code !== OP.RET_K) throw new Error("BPF: the program must end with a return");
    return out;
  }

  #insn(code: number, k: number, jt: Target = "next", jf: Target = "next"): this {
    this.#lines.push({ kind: "insn", code, k, jt, jf });
    return this;
  }
}

/** `struct sock_filter[]` as bytes: u16 code, u8 jt, u8 jf, u32 k, little-endian (x86_64 and aarch64). */
export function encode(program: readonly Instruction[]): Buffer {
  const buf = Buffer.alloc(program.length * 8);
  program.forEach((insn, i) => {
    buf.writeUInt16LE(insn.code, i * 8);
    buf.writeUInt8(insn.jt, i * 8 + 2);
    buf.writeUInt8(insn.jf, i * 8 + 3);
    buf.writeUInt32LE(insn.k, i * 8 + 4);
  });
  return buf;
}
