// When the new PT_LOAD's program header does not fit after the table (what follows the table
// cannot move), a library's table itself moves into the new segment, as patchelf does:
// - ld.so finds a library's table (dl_iterate_phdr's dlpi_phdr) through PT_PHDR or the
//   PT_LOAD holding e_phoff: PT_PHDR follows the table, which the new PT_LOAD maps;
// - the order of the entries does not change (PT_PHDR before every PT_LOAD);
// - a program's table is not moved: it would run (the new segment can keep the first
//   PT_LOAD's vaddr − offset, where kernels before 5.18 look for AT_PHDR), but strip (BFD)
//   lays the table out again afterwards and the stripped program crashes.
import { DF_1_PIE, DT_FLAGS_1, ET_EXEC, PT_INTERP, PT_PHDR } from "../../elf/index.js";
import { programHeaderSize } from "../../elf/write/index.js";
import { PatchError } from "../../errors.js";
import type { FileView } from "./view.js";

/** How the program header table moves into the new segment. */
export interface TableMove {
  /** Its entries there: the old ones, the new PT_LOAD (and PT_NOTE) and one spare PT_NULL (a later edit's PT_LOAD goes there). */
  readonly entries: number;
}

/**
 * How the table can move with `added` more entries (and a spare PT_NULL), or a PatchError
 * naming `why` it had to (the table could not grow where it is) and why it cannot move either.
 */
export function tableMove(view: FileView, why: string, added: number): TableMove {
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
  const flags1 = elf.dynamic?.entries.find((e) => e.d_tag === BigInt(DT_FLAGS_1))?.d_val ?? 0n;
  const runnable = elf.header.e_type === ET_EXEC || phdrs.some((ph) => ph.p_type === PT_INTERP) || (flags1 & BigInt(DF_1_PIE)) !== 0n;
  // A program whose table moved runs, but strip (BFD) lays the table out again and breaks
  // it (a PIE then crashes); a library stays loadable after strip.
  if (runnable) refuse("it is a program, and strip would break a program whose table moved");
  return { entries: elf.phnum + added + 1 };
}
