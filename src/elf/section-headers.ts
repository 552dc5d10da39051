import { Decoder, checkedRange, type ByteSource } from "./bytes.js";
import { MalformedError } from "./errors.js";
import type { ElfHeader } from "./header.js";
import { nameTable } from "./names.js";
import { sectionHeaderLayout, type RawSectionHeader } from "./structs.js";

export type { RawSectionHeader };

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_HASH = 5;
export const SHT_DYNAMIC = 6;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_SHLIB = 10;
export const SHT_DYNSYM = 11;
export const SHT_INIT_ARRAY = 14;
export const SHT_FINI_ARRAY = 15;
export const SHT_PREINIT_ARRAY = 16;
export const SHT_GROUP = 17;
export const SHT_SYMTAB_SHNDX = 18;
export const SHT_RELR = 19;
export const SHT_GNU_ATTRIBUTES = 0x6ffffff5;
export const SHT_GNU_HASH = 0x6ffffff6;
export const SHT_GNU_LIBLIST = 0x6ffffff7;
export const SHT_GNU_verdef = 0x6ffffffd;
export const SHT_GNU_verneed = 0x6ffffffe;
export const SHT_GNU_versym = 0x6fffffff;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHF_TLS = 0x400;

export const sectionTypeName = nameTable("SHT", {
  [SHT_NULL]: "NULL",
  [SHT_PROGBITS]: "PROGBITS",
  [SHT_SYMTAB]: "SYMTAB",
  [SHT_STRTAB]: "STRTAB",
  [SHT_RELA]: "RELA",
  [SHT_HASH]: "HASH",
  [SHT_DYNAMIC]: "DYNAMIC",
  [SHT_NOTE]: "NOTE",
  [SHT_NOBITS]: "NOBITS",
  [SHT_REL]: "REL",
  [SHT_SHLIB]: "SHLIB",
  [SHT_DYNSYM]: "DYNSYM",
  [SHT_INIT_ARRAY]: "INIT_ARRAY",
  [SHT_FINI_ARRAY]: "FINI_ARRAY",
  [SHT_PREINIT_ARRAY]: "PREINIT_ARRAY",
  [SHT_GROUP]: "GROUP",
  [SHT_SYMTAB_SHNDX]: "SYMTAB_SHNDX",
  [SHT_RELR]: "RELR",
  [SHT_GNU_ATTRIBUTES]: "GNU_ATTRIBUTES",
  [SHT_GNU_HASH]: "GNU_HASH",
  [SHT_GNU_LIBLIST]: "GNU_LIBLIST",
  [SHT_GNU_verdef]: "GNU_verdef",
  [SHT_GNU_verneed]: "GNU_verneed",
  [SHT_GNU_versym]: "GNU_versym",
  0x6ffffff8: "CHECKSUM",
  0x6ffffffa: "SUNW_move",
  0x6ffffffb: "SUNW_COMDAT",
  0x6ffffffc: "SUNW_syminfo",
  0x70000001: "LOPROC+1",
  0x70000003: "LOPROC+3",
});

export interface SectionHeader extends RawSectionHeader {
  /** Resolved from the section-name string table; "" when it cannot be. */
  readonly name: string;
}

type RawSection = RawSectionHeader;

function decodeSection(d: Decoder, o: number, is64: boolean): RawSection {
  return sectionHeaderLayout(is64).read(d, o);
}

/** Section 0, which holds the real counts when the header's fields overflow (extended numbering). */
export function readSectionZero(source: ByteSource, header: ElfHeader): RawSection | null {
  if (header.e_shoff === 0n) return null;
  const is64 = header.class === 64;
  const size = sectionHeaderLayout(is64).size;
  if (header.e_shentsize < size) {
    throw new MalformedError(`e_shentsize ${header.e_shentsize} is smaller than a section header`);
  }
  const r = checkedRange(header.e_shoff, size, source.size, "section header 0");
  return decodeSection(new Decoder(source.read(r.offset, r.length), header.little, r.offset), 0, is64);
}

/**
 * Reads the section header table and resolves names through section `shstrndx`.
 * Names that cannot be resolved come back as "", since callers only use them as hints.
 */
export function parseSectionHeaders(
  source: ByteSource,
  header: ElfHeader,
  shnum: number,
  shstrndx: number,
): SectionHeader[] {
  if (shnum === 0 || header.e_shoff === 0n) return [];
  const is64 = header.class === 64;
  const entsize = header.e_shentsize;
  if (entsize < sectionHeaderLayout(is64).size) {
    throw new MalformedError(`e_shentsize ${entsize} is smaller than a section header`);
  }
  const r = checkedRange(header.e_shoff, BigInt(entsize) * BigInt(shnum), source.size, "section header table");
  const d = new Decoder(source.read(r.offset, r.length), header.little, r.offset);
  const raw: RawSection[] = [];
  for (let i = 0; i < shnum; i++) raw.push(decodeSection(d, i * entsize, is64));

  let names: Uint8Array | null = null;
  const strtab = raw[shstrndx];
  if (shstrndx !== 0 && strtab && strtab.sh_type !== SHT_NOBITS) {
    const end = strtab.sh_offset + strtab.sh_size;
    if (end <= BigInt(source.size)) {
      names = source.read(Number(strtab.sh_offset), Number(strtab.sh_size));
    }
  }
  return raw.map((s) => ({ ...s, name: names ? sectionName(names, s.sh_name) : "" }));
}

function sectionName(table: Uint8Array, at: number): string {
  if (at >= table.length) return "";
  let end = at;
  while (end < table.length && table[end] !== 0) end++;
  if (end === table.length) return "";
  let s = "";
  for (let i = at; i < end; i++) s += String.fromCharCode(table[i]!);
  return s;
}
