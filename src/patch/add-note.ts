// Emission of the "add-note" edit: the note's bytes in the new segment, a PT_NOTE for them,
// and an allocated SHT_NOTE section header. That header is one more entry than the section
// header table has room for, and its name is not in .shstrtab: both tables are written
// again after the end of the file (ELF header and .shstrtab's header updated; the old
// copies stay behind, unreferenced). The new section is the last one, so no section index
// changes.
import {
  EI_NIDENT,
  PF_R,
  PT_NOTE,
  SHF_ALLOC,
  SHN_LORESERVE,
  SHT_NOTE,
  SHT_STRTAB,
  elfHeaderLayout,
  type ProgramHeader,
  type RawSectionHeader,
} from "../elf/index.js";
import { Encoder, alignUp, encodeSectionHeader, sectionHeaderSize } from "../elf/write/index.js";
import { PatchError } from "../errors.js";
import type { At, FileView, SegmentPlacement } from "./layout/view.js";
import type { AddedNote, PlannedWrite } from "./model.js";
import { concat } from "./strings.js";

/** The added note's PT_NOTE, after the last PT_NOTE (else at the end of the table). */
export function insertNoteHeader(phdrs: ProgramHeader[], at: At, note: AddedNote): void {
  const size = BigInt(note.bytes.length);
  const ph: ProgramHeader = { p_type: PT_NOTE, p_flags: PF_R, p_offset: BigInt(at.offset), p_vaddr: at.vaddr, p_paddr: at.vaddr, p_filesz: size, p_memsz: size, p_align: 4n };
  let last = -1;
  phdrs.forEach((p, i) => {
    if (p.p_type === PT_NOTE) last = i;
  });
  phdrs.splice(last >= 0 ? last + 1 : phdrs.length, 0, ph);
}

/**
 * Adds to `writes` the note's bytes, .shstrtab with the new name and the section header
 * table with the new section, both after everything else; the planned writes into the old
 * section header table are folded into the new one.
 */
export function addNoteSection(view: FileView, placement: SegmentPlacement, note: AddedNote, writes: PlannedWrite[]): void {
  const { elf, is64, little } = view;
  const secs = view.sections;
  const at = placement.note;
  const shent = elf.header.e_shentsize;
  if (!secs || !at || shent < sectionHeaderSize(is64)) throw new PatchError(`has no usable section headers: cannot add the ${note.section} section`);
  const shnum = secs.length;
  if (elf.header.e_shnum !== shnum || shnum + 1 >= SHN_LORESERVE) throw new PatchError(`has too many sections to add ${note.section}`);
  const names = secs[elf.shstrndx];
  if (elf.shstrndx === 0 || names?.sh_type !== SHT_STRTAB || names.sh_offset + names.sh_size > BigInt(elf.source.size)) throw new PatchError(`has no section name table: cannot add the ${note.section} section`);
  writes.push({ offset: at.offset, bytes: note.bytes, what: note.section });

  // The table as planned: the old entries with the planned changes, then the new one.
  const oldAt = Number(elf.header.e_shoff);
  const oldEnd = oldAt + shnum * shent;
  const table = new Uint8Array((shnum + 1) * shent);
  table.set(elf.source.read(oldAt, shnum * shent));
  for (let i = writes.length - 1; i >= 0; i--) {
    const w = writes[i]!;
    if (w.offset + w.bytes.length <= oldAt || w.offset >= oldEnd) continue;
    if (w.offset < oldAt || w.offset + w.bytes.length > oldEnd) throw new PatchError(`its ${w.what} overlaps the section header table`);
    table.set(w.bytes, w.offset - oldAt);
    writes.splice(i, 1);
  }

  // .shstrtab with the new name, then the table, after the end of everything else.
  const oldNames = elf.source.read(Number(names.sh_offset), Number(names.sh_size));
  const sep = oldNames.length > 0 && oldNames[oldNames.length - 1] !== 0 ? Uint8Array.of(0) : new Uint8Array(0);
  const newNames = concat([oldNames, sep, new TextEncoder().encode(note.section + "\0")]);
  const namesAt = Math.max(view.oldSize, ...writes.map((w) => w.offset + w.bytes.length));
  const tableAt = alignUp(namesAt + newNames.length, is64 ? 8 : 4);
  const header = (i: number, s: RawSectionHeader) => table.set(encodeSectionHeader(s, is64, little), i * shent);
  header(elf.shstrndx, { ...names, sh_offset: BigInt(namesAt), sh_size: BigInt(newNames.length) });
  header(shnum, {
    sh_name: oldNames.length + sep.length,
    sh_type: SHT_NOTE,
    sh_flags: BigInt(SHF_ALLOC),
    sh_addr: at.vaddr,
    sh_offset: BigInt(at.offset),
    sh_size: BigInt(note.bytes.length),
    sh_link: 0,
    sh_info: 0,
    sh_addralign: 4n,
    sh_entsize: 0n,
  });
  writes.push({ offset: namesAt, bytes: newNames, what: "section names (moved)" }, { offset: tableAt, bytes: table, what: "section header table (moved)" });

  const layout = elfHeaderLayout(is64).offset;
  const shoff = new Uint8Array(is64 ? 8 : 4);
  new Encoder(shoff, little).word(0, BigInt(tableAt), is64);
  const count = new Uint8Array(2);
  new Encoder(count, little).u16(0, shnum + 1);
  writes.push({ offset: EI_NIDENT + layout.e_shoff, bytes: shoff, what: "e_shoff" }, { offset: EI_NIDENT + layout.e_shnum, bytes: count, what: "e_shnum" });
}
