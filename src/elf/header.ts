import { Decoder, checkedRange, type ByteSource } from "./bytes.js";
import { MalformedError, NotElfError, TruncatedError, UnsupportedElfError } from "./errors.js";
import { nameTable } from "./names.js";
import { EI_NIDENT, elfHeaderLayout, programHeaderLayout, type RawElfHeader } from "./structs.js";

/** Indexes into e_ident. */
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const EI_OSABI = 7;
export const EI_ABIVERSION = 8;

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

/**
 * The ELF header with fields under their spec names; 64-bit offsets stay bigint. The e_*
 * members are the record after e_ident (RawElfHeader); e_phnum, e_shnum and e_shstrndx are
 * as stored: see `phnum`/`shnum`/`shstrndx` on ElfFile for extended numbering.
 */
export interface ElfHeader extends RawElfHeader {
  /** 32 or 64, from EI_CLASS. */
  readonly class: 32 | 64;
  readonly little: boolean;
  readonly ei_osabi: number;
  readonly ei_abiversion: number;
}

export const EHDR32_SIZE = EI_NIDENT + elfHeaderLayout(false).size;
export const EHDR64_SIZE = EI_NIDENT + elfHeaderLayout(true).size;
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
  const cls = ident[EI_CLASS];
  const data = ident[EI_DATA];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) {
    throw new UnsupportedElfError(`unknown ELF class ${cls}`, EI_CLASS);
  }
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) {
    throw new UnsupportedElfError(`unknown ELF data encoding ${data}`, EI_DATA);
  }
  const is64 = cls === ELFCLASS64;
  const size = is64 ? EHDR64_SIZE : EHDR32_SIZE;
  const r = checkedRange(0, size, source.size, "ELF header");
  const d = new Decoder(source.read(r.offset, r.length), data === ELFDATA2LSB);
  const layout = elfHeaderLayout(is64);
  // The record first: an object spread into a literal after other members is built slowly
  // and its properties read slowly, and the header is read everywhere.
  const header: ElfHeader = {
    ...layout.read(d, EI_NIDENT),
    class: is64 ? 64 : 32,
    little: data === ELFDATA2LSB,
    ei_osabi: ident[EI_OSABI]!,
    ei_abiversion: ident[EI_ABIVERSION]!,
  };
  if (header.e_phnum !== 0 && header.e_phentsize < programHeaderLayout(is64).size) {
    throw new MalformedError(`e_phentsize ${header.e_phentsize} is smaller than a program header`, EI_NIDENT + layout.offset.e_phentsize);
  }
  return header;
}
