import { Decoder, checkedRange, type ByteSource } from "./bytes.js";
import { MalformedError, NotElfError, TruncatedError, UnsupportedElfError } from "./errors.js";
import { nameTable } from "./names.js";

export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;

export const ET_NONE = 0;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

export const typeName = nameTable("ET", {
  [ET_NONE]: "NONE",
  [ET_REL]: "REL",
  [ET_EXEC]: "EXEC",
  [ET_DYN]: "DYN",
  [ET_CORE]: "CORE",
});

export const EM_SPARC = 2;
export const EM_386 = 3;
export const EM_68K = 4;
export const EM_MIPS = 8;
export const EM_PARISC = 15;
export const EM_SPARC32PLUS = 18;
export const EM_PPC = 20;
export const EM_PPC64 = 21;
export const EM_S390 = 22;
export const EM_ARM = 40;
export const EM_SH = 42;
export const EM_SPARCV9 = 43;
export const EM_IA_64 = 50;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_RISCV = 243;
export const EM_BPF = 247;
export const EM_LOONGARCH = 258;
export const EM_ALPHA = 0x9026;

const machineNames: Record<number, string> = {
  [EM_SPARC]: "sparc",
  [EM_386]: "i386",
  [EM_68K]: "m68k",
  [EM_MIPS]: "mips",
  [EM_PARISC]: "parisc",
  [EM_SPARC32PLUS]: "sparc32plus",
  [EM_PPC]: "ppc",
  [EM_PPC64]: "ppc64",
  [EM_S390]: "s390",
  [EM_ARM]: "arm",
  [EM_SH]: "sh",
  [EM_SPARCV9]: "sparcv9",
  [EM_IA_64]: "ia64",
  [EM_X86_64]: "x86_64",
  [EM_AARCH64]: "aarch64",
  [EM_RISCV]: "riscv",
  [EM_BPF]: "bpf",
  [EM_LOONGARCH]: "loongarch",
  [EM_ALPHA]: "alpha",
};

/** The e_machine value for a short name from `machineName` (`s390x` too), or undefined. */
export function machineFromName(name: string): number | undefined {
  if (name === "s390x") return EM_S390;
  for (const [k, v] of Object.entries(machineNames)) if (v === name) return Number(k);
  return undefined;
}

/**
 * The machine's short name (`x86_64`, `aarch64`, …), or the number itself when unknown.
 * EM_S390 covers both s390 and s390x; the class tells them apart, as users name them.
 */
export function machineName(e_machine: number, elfClass?: 32 | 64): string | number {
  if (e_machine === EM_S390 && elfClass === 64) return "s390x";
  return machineNames[e_machine] ?? e_machine;
}

export const osabiName = nameTable("ELFOSABI", {
  0: "SYSV",
  1: "HPUX",
  2: "NETBSD",
  3: "GNU",
  6: "SOLARIS",
  7: "AIX",
  8: "IRIX",
  9: "FREEBSD",
  12: "OPENBSD",
  64: "ARM_AEABI",
  97: "ARM",
  255: "STANDALONE",
});

/** The ELF header with fields under their spec names; 64-bit offsets stay bigint. */
export interface ElfHeader {
  /** 32 or 64, from EI_CLASS. */
  readonly class: 32 | 64;
  readonly little: boolean;
  readonly ei_osabi: number;
  readonly ei_abiversion: number;
  readonly e_type: number;
  readonly e_machine: number;
  readonly e_version: number;
  readonly e_entry: bigint;
  readonly e_phoff: bigint;
  readonly e_shoff: bigint;
  readonly e_flags: number;
  readonly e_ehsize: number;
  readonly e_phentsize: number;
  /** As stored; see `phnum`/`shnum`/`shstrndx` on ElfFile for extended numbering. */
  readonly e_phnum: number;
  readonly e_shentsize: number;
  readonly e_shnum: number;
  readonly e_shstrndx: number;
}

export const EHDR32_SIZE = 52;
export const EHDR64_SIZE = 64;
export const PN_XNUM = 0xffff;

export function isElf(prefix: Uint8Array): boolean {
  return (
    prefix.length >= 4 && prefix[0] === 0x7f && prefix[1] === 0x45 && prefix[2] === 0x4c && prefix[3] === 0x46
  );
}

export function parseHeader(source: ByteSource): ElfHeader {
  if (source.size < 16) {
    if (source.size >= 4 && isElf(source.read(0, 4))) {
      throw new TruncatedError("file ends inside the ELF identification", source.size);
    }
    throw new NotElfError("not an ELF file (no ELF magic)", 0);
  }
  const ident = source.read(0, 16);
  if (!isElf(ident)) throw new NotElfError("not an ELF file (no ELF magic)", 0);
  const cls = ident[4];
  const data = ident[5];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) {
    throw new UnsupportedElfError(`unknown ELF class ${cls}`, 4);
  }
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) {
    throw new UnsupportedElfError(`unknown ELF data encoding ${data}`, 5);
  }
  const is64 = cls === ELFCLASS64;
  const size = is64 ? EHDR64_SIZE : EHDR32_SIZE;
  const r = checkedRange(0, size, source.size, "ELF header");
  const d = new Decoder(source.read(r.offset, r.length), data === ELFDATA2LSB);
  const w = is64 ? 8 : 4;
  // Offsets after e_entry/e_phoff/e_shoff shift by the word size.
  const at = 24 + 3 * w;
  const header: ElfHeader = {
    class: is64 ? 64 : 32,
    little: data === ELFDATA2LSB,
    ei_osabi: ident[7]!,
    ei_abiversion: ident[8]!,
    e_type: d.u16(16),
    e_machine: d.u16(18),
    e_version: d.u32(20),
    e_entry: d.word(24, is64),
    e_phoff: d.word(24 + w, is64),
    e_shoff: d.word(24 + 2 * w, is64),
    e_flags: d.u32(at),
    e_ehsize: d.u16(at + 4),
    e_phentsize: d.u16(at + 6),
    e_phnum: d.u16(at + 8),
    e_shentsize: d.u16(at + 10),
    e_shnum: d.u16(at + 12),
    e_shstrndx: d.u16(at + 14),
  };
  if (header.e_phnum !== 0 && header.e_phentsize < (is64 ? 56 : 32)) {
    throw new MalformedError(`e_phentsize ${header.e_phentsize} is smaller than a program header`, at + 6);
  }
  return header;
}
