import type { Decoder } from "./bytes.js";
import { MalformedError } from "./errors.js";
import { nameTable, flagNames } from "./names.js";
import { dynamicEntryLayout, type DynamicEntry } from "./structs.js";

export type { DynamicEntry };

export const DT_NULL = 0;
export const DT_NEEDED = 1;
export const DT_PLTRELSZ = 2;
export const DT_PLTGOT = 3;
export const DT_HASH = 4;
export const DT_STRTAB = 5;
export const DT_SYMTAB = 6;
export const DT_RELA = 7;
export const DT_RELASZ = 8;
export const DT_RELAENT = 9;
export const DT_STRSZ = 10;
export const DT_SYMENT = 11;
export const DT_INIT = 12;
export const DT_FINI = 13;
export const DT_SONAME = 14;
export const DT_RPATH = 15;
export const DT_SYMBOLIC = 16;
export const DT_REL = 17;
export const DT_RELSZ = 18;
export const DT_RELENT = 19;
export const DT_PLTREL = 20;
export const DT_DEBUG = 21;
export const DT_TEXTREL = 22;
export const DT_JMPREL = 23;
export const DT_BIND_NOW = 24;
export const DT_INIT_ARRAY = 25;
export const DT_FINI_ARRAY = 26;
export const DT_INIT_ARRAYSZ = 27;
export const DT_FINI_ARRAYSZ = 28;
export const DT_RUNPATH = 29;
export const DT_FLAGS = 30;
export const DT_PREINIT_ARRAY = 32;
export const DT_PREINIT_ARRAYSZ = 33;
export const DT_SYMTAB_SHNDX = 34;
export const DT_RELRSZ = 35;
export const DT_RELR = 36;
export const DT_RELRENT = 37;
export const DT_GNU_PRELINKED = 0x6ffffdf5;
export const DT_GNU_CONFLICTSZ = 0x6ffffdf6;
export const DT_GNU_LIBLISTSZ = 0x6ffffdf7;
export const DT_CHECKSUM = 0x6ffffdf8;
export const DT_PLTPADSZ = 0x6ffffdf9;
export const DT_MOVEENT = 0x6ffffdfa;
export const DT_MOVESZ = 0x6ffffdfb;
export const DT_FEATURE_1 = 0x6ffffdfc;
export const DT_POSFLAG_1 = 0x6ffffdfd;
export const DT_SYMINSZ = 0x6ffffdfe;
export const DT_SYMINENT = 0x6ffffdff;
export const DT_GNU_HASH = 0x6ffffef5;
export const DT_TLSDESC_PLT = 0x6ffffef6;
export const DT_TLSDESC_GOT = 0x6ffffef7;
export const DT_GNU_CONFLICT = 0x6ffffef8;
export const DT_GNU_LIBLIST = 0x6ffffef9;
export const DT_CONFIG = 0x6ffffefa;
export const DT_DEPAUDIT = 0x6ffffefb;
export const DT_AUDIT = 0x6ffffefc;
export const DT_PLTPAD = 0x6ffffefd;
export const DT_MOVETAB = 0x6ffffefe;
export const DT_SYMINFO = 0x6ffffeff;
export const DT_VERSYM = 0x6ffffff0;
export const DT_RELACOUNT = 0x6ffffff9;
export const DT_RELCOUNT = 0x6ffffffa;
export const DT_FLAGS_1 = 0x6ffffffb;
export const DT_VERDEF = 0x6ffffffc;
export const DT_VERDEFNUM = 0x6ffffffd;
export const DT_VERNEED = 0x6ffffffe;
export const DT_VERNEEDNUM = 0x6fffffff;
export const DT_AUXILIARY = 0x7ffffffd;
export const DT_USED = 0x7ffffffe;
export const DT_FILTER = 0x7fffffff;
export const DT_MIPS_SYMTABNO = 0x70000011;
export const DT_MIPS_XHASH = 0x70000036;

const genericTagNames: Record<number, string> = {
  [DT_NULL]: "NULL",
  [DT_NEEDED]: "NEEDED",
  [DT_PLTRELSZ]: "PLTRELSZ",
  [DT_PLTGOT]: "PLTGOT",
  [DT_HASH]: "HASH",
  [DT_STRTAB]: "STRTAB",
  [DT_SYMTAB]: "SYMTAB",
  [DT_RELA]: "RELA",
  [DT_RELASZ]: "RELASZ",
  [DT_RELAENT]: "RELAENT",
  [DT_STRSZ]: "STRSZ",
  [DT_SYMENT]: "SYMENT",
  [DT_INIT]: "INIT",
  [DT_FINI]: "FINI",
  [DT_SONAME]: "SONAME",
  [DT_RPATH]: "RPATH",
  [DT_SYMBOLIC]: "SYMBOLIC",
  [DT_REL]: "REL",
  [DT_RELSZ]: "RELSZ",
  [DT_RELENT]: "RELENT",
  [DT_PLTREL]: "PLTREL",
  [DT_DEBUG]: "DEBUG",
  [DT_TEXTREL]: "TEXTREL",
  [DT_JMPREL]: "JMPREL",
  [DT_BIND_NOW]: "BIND_NOW",
  [DT_INIT_ARRAY]: "INIT_ARRAY",
  [DT_FINI_ARRAY]: "FINI_ARRAY",
  [DT_INIT_ARRAYSZ]: "INIT_ARRAYSZ",
  [DT_FINI_ARRAYSZ]: "FINI_ARRAYSZ",
  [DT_RUNPATH]: "RUNPATH",
  [DT_FLAGS]: "FLAGS",
  [DT_PREINIT_ARRAY]: "PREINIT_ARRAY",
  [DT_PREINIT_ARRAYSZ]: "PREINIT_ARRAYSZ",
  [DT_SYMTAB_SHNDX]: "SYMTAB_SHNDX",
  [DT_RELRSZ]: "RELRSZ",
  [DT_RELR]: "RELR",
  [DT_RELRENT]: "RELRENT",
  [DT_GNU_PRELINKED]: "GNU_PRELINKED",
  [DT_GNU_CONFLICTSZ]: "GNU_CONFLICTSZ",
  [DT_GNU_LIBLISTSZ]: "GNU_LIBLISTSZ",
  [DT_CHECKSUM]: "CHECKSUM",
  [DT_PLTPADSZ]: "PLTPADSZ",
  [DT_MOVEENT]: "MOVEENT",
  [DT_MOVESZ]: "MOVESZ",
  [DT_FEATURE_1]: "FEATURE_1",
  [DT_POSFLAG_1]: "POSFLAG_1",
  [DT_SYMINSZ]: "SYMINSZ",
  [DT_SYMINENT]: "SYMINENT",
  [DT_GNU_HASH]: "GNU_HASH",
  [DT_TLSDESC_PLT]: "TLSDESC_PLT",
  [DT_TLSDESC_GOT]: "TLSDESC_GOT",
  [DT_GNU_CONFLICT]: "GNU_CONFLICT",
  [DT_GNU_LIBLIST]: "GNU_LIBLIST",
  [DT_CONFIG]: "CONFIG",
  [DT_DEPAUDIT]: "DEPAUDIT",
  [DT_AUDIT]: "AUDIT",
  [DT_PLTPAD]: "PLTPAD",
  [DT_MOVETAB]: "MOVETAB",
  [DT_SYMINFO]: "SYMINFO",
  [DT_VERSYM]: "VERSYM",
  [DT_RELACOUNT]: "RELACOUNT",
  [DT_RELCOUNT]: "RELCOUNT",
  [DT_FLAGS_1]: "FLAGS_1",
  [DT_VERDEF]: "VERDEF",
  [DT_VERDEFNUM]: "VERDEFNUM",
  [DT_VERNEED]: "VERNEED",
  [DT_VERNEEDNUM]: "VERNEEDNUM",
  [DT_AUXILIARY]: "AUXILIARY",
  [DT_USED]: "USED",
  [DT_FILTER]: "FILTER",
};

/** Tags in DT_LOPROC..DT_HIPROC mean different things per machine (keyed by e_machine). */
const processorTagNames: Record<number, Record<number, string>> = {
  183: { 0x70000001: "AARCH64_BTI_PLT", 0x70000003: "AARCH64_PAC_PLT", 0x70000005: "AARCH64_VARIANT_PCS" },
  243: { 0x70000001: "RISCV_VARIANT_CC" },
  20: { 0x70000000: "PPC_GOT", 0x70000001: "PPC_OPT" },
  21: { 0x70000000: "PPC64_GLINK", 0x70000001: "PPC64_OPD", 0x70000002: "PPC64_OPDSZ", 0x70000003: "PPC64_OPT" },
  2: { 0x70000001: "SPARC_REGISTER" },
  43: { 0x70000001: "SPARC_REGISTER" },
  50: { 0x70000000: "IA_64_PLT_RESERVE", 0x70000001: "IA_64_VMS_SUBTYPE" },
  0x9026: { 0x70000000: "ALPHA_PLTRO" },
  8: {
    0x70000001: "MIPS_RLD_VERSION",
    0x70000002: "MIPS_TIME_STAMP",
    0x70000003: "MIPS_ICHECKSUM",
    0x70000004: "MIPS_IVERSION",
    0x70000005: "MIPS_FLAGS",
    0x70000006: "MIPS_BASE_ADDRESS",
    0x70000007: "MIPS_MSYM",
    0x70000008: "MIPS_CONFLICT",
    0x70000009: "MIPS_LIBLIST",
    0x7000000a: "MIPS_LOCAL_GOTNO",
    0x7000000b: "MIPS_CONFLICTNO",
    0x70000010: "MIPS_LIBLISTNO",
    0x70000011: "MIPS_SYMTABNO",
    0x70000012: "MIPS_UNREFEXTNO",
    0x70000013: "MIPS_GOTSYM",
    0x70000014: "MIPS_HIPAGENO",
    0x70000016: "MIPS_RLD_MAP",
    0x70000032: "MIPS_PLTGOT",
    0x70000034: "MIPS_RWPLT",
    0x70000035: "MIPS_RLD_MAP_REL",
    0x70000036: "MIPS_XHASH",
  },
};

const genericTagName = nameTable("DT", genericTagNames);

/** `NEEDED`, `GNU_HASH`, `AARCH64_VARIANT_PCS`…; unknown tags as `DT_0x…`. */
export function dynamicTagName(tag: bigint, e_machine?: number): string {
  if (tag < 0n || tag > 0xffffffffn) return `DT_0x${BigInt.asUintN(64, tag).toString(16)}`;
  const t = Number(tag);
  if (e_machine !== undefined) {
    const p = processorTagNames[e_machine]?.[t];
    if (p) return p;
  }
  return genericTagName(t);
}

export const DF_ORIGIN = 0x1;
export const DF_SYMBOLIC = 0x2;
export const DF_TEXTREL = 0x4;
export const DF_BIND_NOW = 0x8;
export const DF_STATIC_TLS = 0x10;

export const dynamicFlagNames = (value: number): string[] =>
  flagNames(value, { 1: "ORIGIN", 2: "SYMBOLIC", 4: "TEXTREL", 8: "BIND_NOW", 16: "STATIC_TLS" });

export const DF_1_NOW = 0x1;
export const DF_1_PIE = 0x08000000;

export const dynamicFlag1Names = (value: number): string[] =>
  flagNames(value, {
    0x1: "NOW",
    0x2: "GLOBAL",
    0x4: "GROUP",
    0x8: "NODELETE",
    0x10: "LOADFLTR",
    0x20: "INITFIRST",
    0x40: "NOOPEN",
    0x80: "ORIGIN",
    0x100: "DIRECT",
    0x200: "TRANS",
    0x400: "INTERPOSE",
    0x800: "NODEFLIB",
    0x1000: "NODUMP",
    0x2000: "CONFALT",
    0x4000: "ENDFILTEE",
    0x8000: "DISPRELDNE",
    0x10000: "DISPRELPND",
    0x20000: "NODIRECT",
    0x40000: "IGNMULDEF",
    0x80000: "NOKSYMS",
    0x100000: "NOHDR",
    0x200000: "EDITED",
    0x400000: "NORELOC",
    0x800000: "SYMINTPOSE",
    0x1000000: "GLOBAUDIT",
    0x2000000: "SINGLETON",
    0x4000000: "STUB",
    0x8000000: "PIE",
    0x10000000: "KMOD",
    0x20000000: "WEAKFILTER",
    0x40000000: "NOCOMMON",
  });

/**
 * Entries a dynamic table may have before DT_NULL. Linkers write a few dozen (libLLVM: 40);
 * a table with more is refused, so that memory stays bounded however large PT_DYNAMIC is.
 */
export const MAX_DYNAMIC_ENTRIES = 65536;

/** How many bytes of a PT_DYNAMIC of `filesz` bytes to read: no more than the entries allowed, and DT_NULL. */
export function dynamicReadLength(filesz: bigint, is64: boolean): bigint {
  const most = BigInt((MAX_DYNAMIC_ENTRIES + 1) * dynamicEntryLayout(is64).size);
  return filesz < most ? filesz : most;
}

/**
 * Decodes dynamic entries up to and excluding the first DT_NULL (or the end of the
 * bytes). The count is bounded by the byte length and MAX_DYNAMIC_ENTRIES, so hostile
 * input can neither loop nor fill memory.
 */
export function decodeDynamicEntries(d: Decoder, is64: boolean): DynamicEntry[] {
  const { size, offset } = dynamicEntryLayout(is64);
  const out: DynamicEntry[] = [];
  for (let o = 0; o + size <= d.length; o += size) {
    const d_tag = d.sword(o + offset.d_tag, is64);
    if (d_tag === 0n) break;
    if (out.length === MAX_DYNAMIC_ENTRIES) {
      throw new MalformedError(`the dynamic table has more than ${MAX_DYNAMIC_ENTRIES} entries before DT_NULL`, d.base + o);
    }
    out.push({ d_tag, d_val: d.word(o + offset.d_val, is64) });
  }
  return out;
}

/** Tags whose value is an offset in the dynamic string table. */
export const STRING_TAGS: ReadonlySet<bigint> = new Set(
  [DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH, DT_AUXILIARY, DT_FILTER, DT_CONFIG, DT_DEPAUDIT, DT_AUDIT, DT_USED].map(BigInt),
);

/**
 * Tags whose value is never an address (counts, sizes, flags, string offsets): their value
 * may equal an address by chance.
 */
const NON_ADDRESS_TAGS: ReadonlySet<bigint> = new Set([
  ...STRING_TAGS,
  ...[DT_PLTRELSZ, DT_RELASZ, DT_RELAENT, DT_STRSZ, DT_SYMENT, DT_SYMBOLIC, DT_RELSZ, DT_RELENT, DT_PLTREL, DT_TEXTREL, DT_BIND_NOW,
    DT_INIT_ARRAYSZ, DT_FINI_ARRAYSZ, DT_FLAGS, DT_PREINIT_ARRAYSZ, DT_RELRSZ, DT_RELRENT, DT_RELACOUNT, DT_RELCOUNT, DT_FLAGS_1,
    DT_VERDEFNUM, DT_VERNEEDNUM].map(BigInt),
]);

/** True for tags known to hold no address; DT_VALRNGLO..DT_VALRNGHI hold values too. */
export const isNonAddressTag = (t: bigint): boolean => NON_ADDRESS_TAGS.has(t) || (t >= 0x6ffffd00n && t <= 0x6ffffdffn);
