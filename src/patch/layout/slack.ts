import { DF_1_PIE, DT_FLAGS_1, DT_STRTAB, PT_GNU_PROPERTY, PT_INTERP, PT_LOAD, PT_NOTE, SHT_NOBITS } from "../../elf/index.js";
import { alignUp } from "../../elf/write/index.js";
import {
  MOVABLE_POINTER_TAGS,
  MOVABLE_SECTION_TYPES,
  RELOCATION_SECTION_TYPES,
  RELOCATION_TAGS,
  dynstrSection,
  foreignTagPointsInto,
  hasTextRelocations,
  headersOverlapping,
  pageOf,
  sectionsWithin,
  type Block,
  type FileView,
  type GrowthRequest,
  type SlackPlacement,
} from "./view.js";

/**
 * Grows .dynstr where it is, without a new segment: the sections after it in its PT_LOAD
 * (version and relocation tables, which only the dynamic table points at) slide up into
 * the unused space between that segment's end and the next thing in the file and in
 * memory, and a moved interpreter string goes after them. Null when the slack is too small
 * or something could point into what would slide.
 */
export function placeInSlack(view: FileView, req: GrowthRequest): SlackPlacement | null {
  const { elf, phdrs, oldSize } = view;
  const secs = view.sections;
  const dyn = elf.dynamic?.entries ?? [];
  if (!secs || req.dynamicSlots > 0 || (!req.dynstr && !req.interp)) return null;
  if (hasTextRelocations(dyn)) return null;
  // A static PIE relocates itself with symbols that mark its relocation tables.
  const flags1 = dyn.find((e) => e.d_tag === BigInt(DT_FLAGS_1))?.d_val ?? 0n;
  if ((flags1 & BigInt(DF_1_PIE)) !== 0n && !phdrs.some((ph) => ph.p_type === PT_INTERP)) return null;

  // The segment to extend: the one holding .dynstr, or (only the interpreter moves) the first.
  const strtabAddr = elf.dynamicValue(DT_STRTAB);
  const dynstrIndex = req.dynstr ? dynstrSection(view, req.dynstr) : -1;
  if (req.dynstr && dynstrIndex < 0) return null;
  const anchor = dynstrIndex >= 0 ? Number(secs[dynstrIndex]!.sh_offset) : Number(elf.header.e_phoff);
  const index = phdrs.findIndex(
    (ph) => ph.p_type === PT_LOAD && BigInt(anchor) >= ph.p_offset && BigInt(anchor) < ph.p_offset + ph.p_filesz,
  );
  if (index < 0) return null;
  const seg = phdrs[index]!;
  if (seg.p_filesz !== seg.p_memsz) return null;
  const segStart = Number(seg.p_offset);
  const fileEnd = segStart + Number(seg.p_filesz);
  const vEnd = seg.p_vaddr + seg.p_memsz;

  // What slides: everything from the end of .dynstr to the end of the segment.
  let slideStart = fileEnd;
  if (req.dynstr) slideStart = Number(secs[dynstrIndex]!.sh_offset + secs[dynstrIndex]!.sh_size);
  const sliding = sectionsWithin(view, slideStart, fileEnd, (s) => MOVABLE_SECTION_TYPES.has(s.sh_type) || RELOCATION_SECTION_TYPES.has(s.sh_type));
  if (!sliding) return null;
  const slideAlign = Math.max(1, ...sliding.map((i) => Number(secs[i]!.sh_addralign) || 1));
  const slideAddr = seg.p_vaddr + BigInt(slideStart - segStart);
  const slideEndAddr = vEnd;
  // Nothing but the updated tags, and notes inside it, may point into what slides.
  if (foreignTagPointsInto(dyn, slideAddr, slideEndAddr, (t) => MOVABLE_POINTER_TAGS.has(t) || RELOCATION_TAGS.has(t))) return null;
  for (const { ph, a, b } of headersOverlapping(view, slideStart, fileEnd, index)) {
    if (a < slideStart || b > fileEnd || (ph.p_type !== PT_NOTE && ph.p_type !== PT_GNU_PROPERTY)) return null;
  }
  const phoff = Number(elf.header.e_phoff);
  if (phoff < fileEnd && phoff + elf.phnum * elf.header.e_phentsize > slideStart) return null;

  // The slack: up to the next byte used in the file, and up to the next segment's first
  // page in memory (pages of the file's largest alignment, at least the minimum page).
  const page = pageOf(view);
  let fileRoom = oldSize - fileEnd;
  const claim = (a: number, b: number) => {
    if (b <= fileEnd || b <= a) return true;
    if (a < fileEnd) return a >= segStart && b <= fileEnd;
    fileRoom = Math.min(fileRoom, a - fileEnd);
    return true;
  };
  for (let i = 0; i < phdrs.length; i++) {
    const ph = phdrs[i]!;
    if (i !== index && ph.p_type === PT_LOAD && !claim(Number(ph.p_offset), Number(ph.p_offset + ph.p_filesz))) return null;
  }
  for (const s of secs) {
    if (s.sh_type !== SHT_NOBITS && !claim(Number(s.sh_offset), Number(s.sh_offset + s.sh_size))) return null;
  }
  const shoff = Number(elf.header.e_shoff);
  if (!claim(shoff, shoff + secs.length * elf.header.e_shentsize)) return null;
  if (!claim(phoff, phoff + elf.phnum * elf.header.e_phentsize)) return null;
  let memRoom = -1n;
  for (let i = 0; i < phdrs.length; i++) {
    const ph = phdrs[i]!;
    if (i === index || ph.p_type !== PT_LOAD || ph.p_memsz === 0n) continue;
    if (ph.p_vaddr < vEnd && ph.p_vaddr + ph.p_memsz > seg.p_vaddr) return null;
    if (ph.p_vaddr >= vEnd) {
      const room = (ph.p_vaddr / page) * page - vEnd;
      if (memRoom < 0n || room < memRoom) memRoom = room;
    }
  }
  const room = memRoom < 0n ? fileRoom : Math.min(fileRoom, Number(memRoom));

  // How far the sliding sections move: past the grown .dynstr, keeping their alignment.
  let delta = 0;
  let newEnd = fileEnd;
  let pad: SlackPlacement["pad"] = null;
  if (req.dynstr) {
    const grownEnd = req.dynstr.fileOffset + req.dynstr.newSize;
    delta = sliding.length > 0 ? alignUp(Math.max(0, grownEnd - slideStart), slideAlign) : 0;
    newEnd = sliding.length > 0 ? fileEnd + delta : Math.max(fileEnd, grownEnd);
    if (sliding.length === 0) delta = 0;
    const padTo = sliding.length > 0 ? slideStart + delta : grownEnd;
    if (padTo > grownEnd) pad = { offset: grownEnd, size: padTo - grownEnd };
  }
  const interpSize = req.interp ? req.interp.length : 0;
  const by = newEnd + interpSize - fileEnd;
  if (by > room || by <= 0) return null;

  const blocks: Block[] =
    sliding.length > 0 && delta > 0
      ? [{ start: slideStart, end: fileEnd, addr: slideAddr, align: slideAlign, sections: sliding, newOffset: slideStart + delta, newAddr: slideAddr + BigInt(delta) }]
      : [];
  return {
    kind: "slack",
    index,
    by,
    pad,
    blocks,
    dynstr: req.dynstr ? { offset: req.dynstr.fileOffset, vaddr: strtabAddr! } : null,
    interp: req.interp ? { offset: newEnd, vaddr: seg.p_vaddr + BigInt(newEnd - segStart) } : null,
  };
}
