import { ET_EXEC, PT_GNU_PROPERTY, PT_INTERP, PT_LOAD, PT_NOTE, SHT_PROGBITS, type SectionHeader } from "../../elf/index.js";
import { alignUpBig } from "../../elf/write/index.js";
import {
  MOVABLE_POINTER_TAGS,
  MOVABLE_SECTION_TYPES,
  dynstrSection,
  foreignTagPointsInto,
  hasTextRelocations,
  headersOverlapping,
  pageOf,
  sectionsWithin,
  type At,
  type Block,
  type FileView,
  type GrowthRequest,
  type ShiftPlacement,
} from "./view.js";

/** Largest shift: the start of the file is rewritten in memory (a large p_align makes it large). */
const MAX_SHIFT = 16 << 20;
/** Lowest address a shifted executable may start at: Linux's default vm.mmap_min_addr. */
const MIN_MAP_ADDRESS = 0x10000n;

/**
 * patchelf's layout for executables, when cheaper than a new segment: the file's contents
 * move `shift` bytes (whole pages) later and the first PT_LOAD, still at offset 0, starts
 * `shift` bytes lower in memory; the sections between the program header table and the end
 * of .dynstr (interpreter, notes, hash tables, .dynsym, version tables, .dynstr) are laid out
 * again, downwards from where .dynstr ended, with the grown .dynstr (and interpreter) in
 * their place. Code and data keep their addresses. Null when the file is not laid out for
 * it or a new segment would grow it less (`segmentGrowth`, asked only when needed).
 */
export function placeByShift(view: FileView, req: GrowthRequest, segmentGrowth: () => number): ShiftPlacement | null {
  const { elf, phdrs } = view;
  const secs = view.sections;
  const dyn = elf.dynamic?.entries ?? [];
  if (!secs || !req.dynstr || req.dynamicSlots > 0 || elf.header.e_type !== ET_EXEC) return null;
  if (hasTextRelocations(dyn)) return null;
  const loads = phdrs.map((ph, i) => ({ ph, i })).filter((x) => x.ph.p_type === PT_LOAD);
  if (loads.length === 0) return null;
  const { ph: first, i: index } = loads.reduce((a, b) => (b.ph.p_vaddr < a.ph.p_vaddr ? b : a));
  if (first.p_offset !== 0n || phdrs.indexOf(first) !== loads[0]!.i) return null;
  const base = first.p_vaddr;
  const headerEnd = Number(elf.header.e_phoff) + elf.phnum * elf.header.e_phentsize;
  if (Number(elf.header.e_phoff) < elf.header.e_ehsize || BigInt(headerEnd) > first.p_filesz) return null;

  const dynstrIndex = dynstrSection(view, req.dynstr);
  if (dynstrIndex < 0) return null;
  const regionEnd = Number(secs[dynstrIndex]!.sh_offset + secs[dynstrIndex]!.sh_size);
  if (BigInt(regionEnd) > first.p_filesz) return null;
  const interpPh = phdrs.find((ph) => ph.p_type === PT_INTERP);
  const isInterp = (s: SectionHeader) => interpPh !== undefined && s.sh_type === SHT_PROGBITS && s.sh_offset === interpPh.p_offset;

  // The sections to lay out again: all of [headerEnd, regionEnd), each of a movable kind.
  const inRegion = sectionsWithin(view, headerEnd, regionEnd, (s, i) => i === dynstrIndex || MOVABLE_SECTION_TYPES.has(s.sh_type) || isInterp(s));
  if (!inRegion) return null;
  if (req.interp && !inRegion.some((i) => isInterp(secs[i]!))) return null;
  const regionAddr = base + BigInt(headerEnd);
  const regionEndAddr = base + BigInt(regionEnd);
  if (foreignTagPointsInto(dyn, regionAddr, regionEndAddr, (t) => MOVABLE_POINTER_TAGS.has(t))) return null;
  // Program headers in the region: only the interpreter's and notes, each inside it and one group below.
  const groupsOf: { start: number; end: number; align: number; sections: number[] }[] = [];
  const sorted = inRegion.sort((x, y) => Number(secs[x]!.sh_offset - secs[y]!.sh_offset));
  for (const i of sorted) {
    const s = secs[i]!;
    groupsOf.push({ start: Number(s.sh_offset), end: Number(s.sh_offset + s.sh_size), align: Math.max(1, Number(s.sh_addralign)), sections: [i] });
  }
  for (const { ph, a, b } of headersOverlapping(view, headerEnd, regionEnd, index)) {
    if (ph.p_type === PT_LOAD || a < headerEnd || b > regionEnd) return null;
    if (ph.p_type !== PT_NOTE && ph.p_type !== PT_GNU_PROPERTY && ph.p_type !== PT_INTERP) return null;
    // The groups it covers become one, keeping their relative layout.
    const covered = groupsOf.filter((g) => g.start < b && g.end > a);
    if (covered.length === 0 || covered[0]!.start > a || covered.at(-1)!.end < b) return null;
    if (ph.p_type === PT_INTERP && covered.length !== 1) return null;
    if (covered.length > 1) {
      const merged = {
        start: covered[0]!.start,
        end: Math.max(...covered.map((g) => g.end)),
        align: Math.max(...covered.map((g) => g.align)),
        sections: covered.flatMap((g) => g.sections),
      };
      if (merged.sections.includes(dynstrIndex)) return null;
      groupsOf.splice(groupsOf.indexOf(covered[0]!), covered.length, merged);
    }
  }

  // Downwards from the old end of .dynstr (old offsets; below headerEnd is the new space).
  let cursor = regionEnd;
  const placed = new Map<(typeof groupsOf)[number], number>();
  for (const g of [...groupsOf].reverse()) {
    const isDynstr = g.sections.includes(dynstrIndex);
    const interpGroup = req.interp !== null && g.sections.some((i) => isInterp(secs[i]!));
    if (interpGroup && g.sections.length > 1) return null;
    const size = isDynstr ? req.dynstr.newSize : interpGroup ? req.interp!.length : g.end - g.start;
    let at = cursor - size;
    // Same remainder modulo the alignment as before, so contents keep their alignment.
    at -= (((at - g.start) % g.align) + g.align) % g.align;
    placed.set(g, at);
    cursor = at;
  }
  const page = pageOf(view);
  const need = headerEnd - cursor;
  const shift = need > 0 ? Number(alignUpBig(BigInt(need), page)) : 0;
  // Cheaper than a new segment only; and the first segment must stay above the lowest mappable address.
  if (shift > MAX_SHIFT || base - BigInt(shift) < MIN_MAP_ADDRESS || shift > segmentGrowth()) return null;

  let dynstr: At | null = null;
  let interp: At | null = null;
  const blocks: Block[] = [];
  for (const [g, at] of placed) {
    const isDynstr = g.sections.includes(dynstrIndex);
    const interpGroup = req.interp !== null && g.sections.some((i) => isInterp(secs[i]!));
    if (isDynstr) dynstr = { offset: at + shift, vaddr: base + BigInt(at) };
    else if (interpGroup) interp = { offset: at + shift, vaddr: base + BigInt(at) };
    else blocks.push({ start: g.start, end: g.end, addr: base + BigInt(g.start), align: g.align, sections: g.sections, newOffset: at + shift, newAddr: base + BigInt(at) });
  }
  blocks.sort((x, y) => x.start - y.start);
  return { kind: "shift", shift, firstLoad: index, regionEnd: regionEnd + shift, headerEnd, blocks, dynstr, interp };
}
