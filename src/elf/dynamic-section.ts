// A `.dynamic` section in a file whose program headers have no PT_DYNAMIC (a corrupted or
// unusual program header table): ld.so would not see it, but patchelf edits such files
// through the section headers. The section is trusted only when the section headers agree
// with the program headers about it.
import { MalformedError } from "./errors.js";
import { PT_LOAD, type ProgramHeader } from "./program-headers.js";
import { SHF_ALLOC, SHT_DYNAMIC, SHT_STRTAB, type SectionHeader } from "./section-headers.js";

/** The PT_LOAD holding section `s` wholly, with the same offset-to-address mapping, or undefined. */
function loadOf(s: SectionHeader, phdrs: readonly ProgramHeader[]): ProgramHeader | undefined {
  return phdrs.find(
    (p) =>
      p.p_type === PT_LOAD &&
      s.sh_offset >= p.p_offset &&
      s.sh_offset + s.sh_size <= p.p_offset + p.p_filesz &&
      s.sh_addr - p.p_vaddr === s.sh_offset - p.p_offset,
  );
}

/**
 * The one SHT_DYNAMIC section, when consistent: allocated, inside the file and inside a
 * PT_LOAD at its own address, a whole number of entries, linked (sh_link) to an allocated
 * string table that also lies in a PT_LOAD. Null when there is no such section; throws
 * MalformedError naming what disagrees.
 */
export function consistentDynamicSection(
  sections: readonly SectionHeader[],
  phdrs: readonly ProgramHeader[],
  fileSize: number,
  entrySize: number,
): SectionHeader | null {
  const found = sections.filter((s) => s.sh_type === SHT_DYNAMIC);
  if (found.length === 0) return null;
  const what = "has no PT_DYNAMIC, and its dynamic section";
  if (found.length > 1) throw new MalformedError(`${what} is not unique (${found.length} SHT_DYNAMIC sections)`);
  const s = found[0]!;
  const name = s.name || ".dynamic";
  if (s.sh_size === 0n || s.sh_size % BigInt(entrySize) !== 0n) throw new MalformedError(`${what} ${name} has size ${s.sh_size}, not a whole number of entries`);
  if (s.sh_offset + s.sh_size > BigInt(fileSize)) throw new MalformedError(`${what} ${name} lies outside the file`);
  if ((s.sh_flags & BigInt(SHF_ALLOC)) === 0n || !loadOf(s, phdrs)) throw new MalformedError(`${what} ${name} is not inside a PT_LOAD at its address`);
  const str = sections[s.sh_link];
  if (!str || s.sh_link === 0 || str.sh_type !== SHT_STRTAB) throw new MalformedError(`${what} ${name} is not linked to a string table (sh_link ${s.sh_link})`);
  if ((str.sh_flags & BigInt(SHF_ALLOC)) === 0n || !loadOf(str, phdrs)) {
    throw new MalformedError(`${what} ${name} is linked to ${str.name || "a string table"}, which is not inside a PT_LOAD at its address`);
  }
  return s;
}
