// A resolution cache note (.note.nixos.ldcache) records where each NEEDED library was found
// on the run path. An edit that changes the run path or NEEDED makes it stale: a loader that
// trusts it would open a library the new run path no longer leads to. Such a note is dropped
// in the same rewrite (as patchelf 0.19 does), unless the run writes a new one: its PT_NOTE
// becomes PT_NULL and its section header an all-zero SHT_NULL entry, or, when the PT_NOTE
// holds other notes too, the record's n_type is zeroed so that no reader matches it.
// Nothing moves.
import { DT_NEEDED, DT_RPATH, DT_RUNPATH, PT_NOTE, PT_NULL, SHT_NOTE, type ElfFile, type ProgramHeader, type SectionHeader } from "../elf/index.js";
import { LDCACHE_SECTION } from "./ldcache.js";
import type { PlannedWrite } from "./model.js";

/** What a resolution cache note depends on: the run path and NEEDED entries, in order, with their kinds. */
export function resolutionInputs(slots: readonly { tag: bigint; str?: string }[]): string {
  const tags = new Set([BigInt(DT_NEEDED), BigInt(DT_RPATH), BigInt(DT_RUNPATH)]);
  return slots
    .filter((s) => tags.has(s.tag))
    .map((s) => `${s.tag}=${s.str ?? ""}`)
    .join("\0");
}

/**
 * The file's live note section of this name and its index: SHT_NOTE (a dropped one's header
 * is all zero) and not a record whose type was zeroed.
 */
export function liveNoteSection(elf: ElfFile, name: string): { index: number; section: SectionHeader } | null {
  const secs = elf.sectionsIfUsable() ?? [];
  const index = secs.findIndex((s) => s.name === name && s.sh_type === SHT_NOTE && !typeZeroed(elf, s));
  return index < 0 ? null : { index, section: secs[index]! };
}

const typeZeroed = (elf: ElfFile, s: SectionHeader) => {
  if (s.sh_size < 12n || s.sh_offset + s.sh_size > BigInt(elf.source.size)) return false;
  return elf.source.read(Number(s.sh_offset) + 8, 4).every((b) => b === 0);
};

/** The writes and program header change that drop the live resolution cache note, or null when the file has none. */
export function dropResolutionNote(elf: ElfFile, phdrs: ProgramHeader[]): { writes: PlannedWrite[]; phdrsModified: boolean; size: number } | null {
  const live = liveNoteSection(elf, LDCACHE_SECTION);
  if (!live) return null;
  const { index, section: s } = live;
  const own = phdrs.findIndex((p) => p.p_type === PT_NOTE && p.p_offset === s.sh_offset && p.p_filesz === s.sh_size);
  if (own >= 0) {
    // Its own PT_NOTE (as patchelf and abilink add it): no PT_NOTE, and an all-zero section
    // header, the gABI's inactive entry, which eu-elflint accepts and patchelf does not find.
    phdrs[own] = { ...phdrs[own]!, p_type: PT_NULL };
    const at = Number(elf.header.e_shoff) + index * elf.header.e_shentsize;
    return { writes: [{ offset: at, bytes: new Uint8Array(elf.header.e_shentsize), what: `${LDCACHE_SECTION} section header (dropped)` }], phdrsModified: true, size: Number(s.sh_size) };
  }
  // Linked in beside other notes (symbols may point at it): the record stays, with a type nobody reads.
  if (s.sh_size < 12n || s.sh_offset + s.sh_size > BigInt(elf.source.size)) return null;
  return { writes: [{ offset: Number(s.sh_offset) + 8, bytes: new Uint8Array(4), what: `${LDCACHE_SECTION} note type (dropped)` }], phdrsModified: false, size: Number(s.sh_size) };
}
