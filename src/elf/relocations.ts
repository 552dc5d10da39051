import {
  DT_JMPREL,
  DT_PLTREL,
  DT_PLTRELSZ,
  DT_REL,
  DT_RELA,
  DT_RELAENT,
  DT_RELASZ,
  DT_RELENT,
  DT_RELSZ,
} from "./dynamic.js";
import type { ElfFile } from "./elf-file.js";
import {
  EM_386,
  EM_68K,
  EM_AARCH64,
  EM_ALPHA,
  EM_ARM,
  EM_IA_64,
  EM_LOONGARCH,
  EM_PARISC,
  EM_PPC,
  EM_PPC64,
  EM_RISCV,
  EM_S390,
  EM_SH,
  EM_SPARC,
  EM_SPARC32PLUS,
  EM_SPARCV9,
  EM_X86_64,
} from "./header.js";
import { relLayout, relaLayout, relocationInfo } from "./structs.js";

/** One table of dynamic relocations, as the dynamic section locates it. */
export interface RelocationTable {
  address: bigint;
  size: number;
  entsize: number;
  rela: boolean;
}

/**
 * The dynamic relocation tables: DT_RELA, DT_REL, and DT_JMPREL when it is not one of
 * them (its kind from DT_PLTREL). DT_RELR has no symbols and is not listed.
 */
export function dynamicRelocationTables(elf: ElfFile): RelocationTable[] {
  const val = (t: number) => elf.dynamicValue(t);
  const entryOf = (rela: boolean) => (rela ? relaLayout(elf.is64) : relLayout(elf.is64)).size;
  const out: RelocationTable[] = [];
  for (const [addrTag, sizeTag, entTag, rela] of [
    [DT_RELA, DT_RELASZ, DT_RELAENT, true],
    [DT_REL, DT_RELSZ, DT_RELENT, false],
  ] as const) {
    const address = val(addrTag);
    if (address === undefined) continue;
    out.push({ address, size: Number(val(sizeTag) ?? 0n), entsize: Number(val(entTag) ?? BigInt(entryOf(rela))), rela });
  }
  const jmprel = val(DT_JMPREL);
  if (jmprel !== undefined && !out.some((t) => t.address === jmprel)) {
    const rela = Number(val(DT_PLTREL) ?? BigInt(DT_RELA)) === DT_RELA;
    out.push({ address: jmprel, size: Number(val(DT_PLTRELSZ) ?? 0n), entsize: entryOf(rela), rela });
  }
  return out;
}

/**
 * Calls `each(symbolIndex, type)` for every relocation in `table`. The table is read in
 * one piece, bounded by the file; an entry size too small to hold r_info is refused.
 */
export function forEachRelocation(elf: ElfFile, table: RelocationTable, each: (sym: number, type: number) => void): void {
  if (table.size <= 0) return;
  const infoAt = relLayout(elf.is64).offset.r_info;
  const wordSize = elf.is64 ? 8 : 4;
  if (table.entsize < infoAt + wordSize) return;
  const at = elf.addressToOffset(table.address, table.size, "relocation table");
  const d = elf.readAt(at, table.size, "relocation table");
  for (let o = 0; o + table.entsize <= table.size; o += table.entsize) {
    const { sym, type } = relocationInfo(d.word(o + infoAt, elf.is64), elf.is64);
    each(sym, type);
  }
}

/**
 * The copy relocation's type for a machine (R_X86_64_COPY and its kin), or null where it is
 * not known or r_info is laid out differently (MIPS64).
 */
export function copyRelocationType(e_machine: number, cls: 32 | 64): number | null {
  switch (e_machine) {
    case EM_X86_64:
    case EM_386:
      return 5;
    case EM_AARCH64:
      return cls === 64 ? 1024 : 180;
    case EM_ARM:
      return 20;
    case EM_PPC:
    case EM_PPC64:
    case EM_SPARC:
    case EM_SPARC32PLUS:
    case EM_SPARCV9:
    case EM_68K:
      return 19;
    case EM_S390:
      return 9;
    case EM_RISCV:
    case EM_LOONGARCH:
      return 4;
    case EM_ALPHA:
      return 24;
    case EM_SH:
      return 162;
    case EM_PARISC:
      return 128;
    case EM_IA_64:
      return 0x84;
    default:
      return null;
  }
}

/** The dynamic symbol indexes named by copy relocations, in table order; null when the machine's type is unknown. */
export function copyRelocatedSymbols(elf: ElfFile): number[] | null {
  const copy = copyRelocationType(elf.header.e_machine, elf.header.class);
  if (copy === null) return null;
  const out: number[] = [];
  for (const t of dynamicRelocationTables(elf)) {
    forEachRelocation(elf, t, (sym, type) => {
      if (type === copy && sym !== 0) out.push(sym);
    });
  }
  return out;
}
