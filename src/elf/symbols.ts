import { Decoder } from "./bytes.js";
import { nameTable } from "./names.js";

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STB_GNU_UNIQUE = 10;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_COMMON = 5;
export const STT_TLS = 6;
export const STT_GNU_IFUNC = 10;

export const STV_DEFAULT = 0;
export const STV_INTERNAL = 1;
export const STV_HIDDEN = 2;
export const STV_PROTECTED = 3;

export const symbolBindName = nameTable("STB", {
  [STB_LOCAL]: "LOCAL",
  [STB_GLOBAL]: "GLOBAL",
  [STB_WEAK]: "WEAK",
  [STB_GNU_UNIQUE]: "GNU_UNIQUE",
});

export const symbolTypeName = nameTable("STT", {
  [STT_NOTYPE]: "NOTYPE",
  [STT_OBJECT]: "OBJECT",
  [STT_FUNC]: "FUNC",
  [STT_SECTION]: "SECTION",
  [STT_FILE]: "FILE",
  [STT_COMMON]: "COMMON",
  [STT_TLS]: "TLS",
  [STT_GNU_IFUNC]: "GNU_IFUNC",
});

export const symbolVisibilityName = (st_other: number): string =>
  (["DEFAULT", "INTERNAL", "HIDDEN", "PROTECTED"] as const)[st_other & 3]!;

/** One entry of a symbol table, fields under their spec names. */
export interface RawSymbol {
  readonly st_name: number;
  readonly st_value: bigint;
  readonly st_size: bigint;
  readonly st_info: number;
  readonly st_other: number;
  readonly st_shndx: number;
}

/** Where each field of a symbol table entry lies, per class (the gABI's Elf32_Sym and Elf64_Sym). */
export interface SymbolLayout {
  readonly entsize: number;
  readonly name: number;
  readonly value: number;
  readonly size: number;
  readonly info: number;
  readonly other: number;
  readonly shndx: number;
}

const LAYOUT_64: SymbolLayout = { entsize: 24, name: 0, info: 4, other: 5, shndx: 6, value: 8, size: 16 };
const LAYOUT_32: SymbolLayout = { entsize: 16, name: 0, value: 4, size: 8, info: 12, other: 13, shndx: 14 };

export const symbolLayout = (is64: boolean): SymbolLayout => (is64 ? LAYOUT_64 : LAYOUT_32);
export const symbolEntrySize = (is64: boolean): number => symbolLayout(is64).entsize;

export function decodeSymbol(d: Decoder, index: number, is64: boolean): RawSymbol {
  const l = symbolLayout(is64);
  const o = index * l.entsize;
  return {
    st_name: d.u32(o + l.name),
    st_info: d.u8(o + l.info),
    st_other: d.u8(o + l.other),
    st_shndx: d.u16(o + l.shndx),
    st_value: d.word(o + l.value, is64),
    st_size: d.word(o + l.size, is64),
  };
}

/** st_size as a number; a size beyond 2^53 is not real and reads as Number.MAX_SAFE_INTEGER. */
export const symbolSize = (st_size: bigint): number =>
  st_size <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(st_size) : Number.MAX_SAFE_INTEGER;

export const symbolBind = (st_info: number): number => st_info >> 4;
export const symbolType = (st_info: number): number => st_info & 0xf;
