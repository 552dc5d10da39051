import type { Decoder } from "./bytes.js";
import { nameTable } from "./names.js";
import { symbolLayout as symbolStruct, type RawSymbol } from "./structs.js";

export type { RawSymbol };

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

export const symbolEntrySize = (is64: boolean): number => symbolStruct(is64).size;

export function decodeSymbol(d: Decoder, index: number, is64: boolean): RawSymbol {
  const l = symbolStruct(is64);
  return l.read(d, index * l.size);
}

/** st_size as a number; a size beyond 2^53 is not real and reads as Number.MAX_SAFE_INTEGER. */
export const symbolSize = (st_size: bigint): number =>
  st_size <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(st_size) : Number.MAX_SAFE_INTEGER;

export const symbolBind = (st_info: number): number => st_info >> 4;
export const symbolType = (st_info: number): number => st_info & 0xf;
