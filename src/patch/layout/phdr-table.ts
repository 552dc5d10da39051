// When the new PT_LOAD's program header does not fit after the table (what follows the table
// cannot move), the table itself moves into the new segment, as patchelf does, within the
// rules of the loaders that find it:
// - kernels before 5.18 give a program AT_PHDR = the first PT_LOAD's (vaddr − offset) +
//   e_phoff, later ones use the PT_LOAD holding e_phoff: the new segment keeps the first
//   PT_LOAD's vaddr − offset, so both find the table (the file may be padded for it);
// - ld.so takes a program's load bias from AT_PHDR − PT_PHDR's address, and a library's
//   table (dl_iterate_phdr's dlpi_phdr) from PT_PHDR or the PT_LOAD holding e_phoff: PT_PHDR
//   follows the table, which the new PT_LOAD maps;
// - the order of the entries does not change (PT_PHDR and PT_INTERP before every PT_LOAD).
import { DF_1_PIE, DT_FLAGS_1, ET_EXEC, PT_INTERP, PT_LOAD, PT_PHDR } from "../../elf/index.js";
import { programHeaderSize } from "../../elf/write/index.js";
import { PatchError } from "../../errors.js";
import type { FileView } from "./view.js";

/** Bytes of zeros a moved table may add before the new segment to keep the kernels' AT_PHDR rule. */
export const MAX_TABLE_PAD = 16 << 20;

/** How the program header table moves into the new segment. */
export interface TableMove {
  /** Its entries there: the old ones, the new PT_LOAD and one spare PT_NULL (a later edit's PT_LOAD goes there). */
  readonly entries: number;
  /** The new segment's vaddr − offset, for a file the kernel may execute; null for a library. */
  readonly delta: bigint | null;
  /** Largest p_align the new segment may have (its vaddr − offset must be a multiple). */
  readonly maxAlign: bigint | null;
}

/**
 * How the table can move, or a PatchError naming `why` it had to (the table could not grow
 * where it is) and why it cannot move either.
 */
export function tableMove(view: FileView, why: string): TableMove {
  const { elf, phdrs } = view;
  const refuse = (reason: string): never => {
    throw new PatchError(`${why}, and the program header table cannot move: ${reason}`);
  };
  const phent = elf.header.e_phentsize;
  if (phent < programHeaderSize(view.is64)) refuse(`e_phentsize ${phent} is too small`);
  const tableSize = BigInt(elf.phnum * phent);
  const phdrEntries = phdrs.filter((ph) => ph.p_type === PT_PHDR);
  if (phdrEntries.length > 1) refuse("more than one PT_PHDR");
  const own = phdrEntries[0];
  if (own && (own.p_offset !== elf.header.e_phoff || own.p_filesz !== tableSize)) refuse("PT_PHDR does not describe it");
  const first = phdrs.find((ph) => ph.p_type === PT_LOAD)!;
  const flags1 = elf.dynamic?.entries.find((e) => e.d_tag === BigInt(DT_FLAGS_1))?.d_val ?? 0n;
  const runnable = elf.header.e_type === ET_EXEC || phdrs.some((ph) => ph.p_type === PT_INTERP) || (flags1 & BigInt(DF_1_PIE)) !== 0n;
  if (!runnable) return { entries: elf.phnum + 2, delta: null, maxAlign: null };
  const delta = first.p_vaddr - first.p_offset;
  // The largest power of two dividing delta (any, for 0): the new segment's alignment bound.
  const maxAlign = delta === 0n ? null : delta & -delta;
  if (maxAlign !== null && maxAlign < 4096n) refuse(`the first PT_LOAD's address and offset differ by 0x${delta.toString(16)}, not a multiple of a page`);
  return { entries: elf.phnum + 2, delta, maxAlign };
}
