import {
  DT_FINI,
  DT_FINI_ARRAY,
  DT_INIT,
  DT_INIT_ARRAY,
  DT_JMPREL,
  DT_PLTGOT,
  DT_PREINIT_ARRAY,
  DT_REL,
  DT_RELA,
  DT_RELR,
  PF_R,
  PF_W,
  PT_GNU_PROPERTY,
  PT_INTERP,
  PT_LOAD,
  PT_NOTE,
  PT_NULL,
  PT_PHDR,
  SHT_DYNAMIC,
  SHT_PROGBITS,
  type SectionHeader,
} from "../../elf/index.js";
import { SpaceAllocator, alignUp, alignUpBig, dynamicEntrySize } from "../../elf/write/index.js";
import { PatchError } from "../../errors.js";
import { tableMove, type TableMove } from "./phdr-table.js";
import { MOVABLE_SECTION_TYPES, isLoaded, type At, type Block, type FileView, type GrowthRequest, type SegmentPlacement } from "./view.js";

/** Address tags into code or data that must never move: a block they point into stays put. */
const FIXED_POINTER_TAGS = new Set<bigint>(
  [DT_PLTGOT, DT_RELA, DT_REL, DT_JMPREL, DT_INIT, DT_FINI, DT_INIT_ARRAY, DT_FINI_ARRAY, DT_PREINIT_ARRAY, DT_RELR].map(BigInt),
);
/** Bound on the address gap left for eu-elflint's view of relocations (see placeNewSegment). */
const MAX_GAP = 1n << 24n;

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

/**
 * A new PT_LOAD after the end of the file, above every segment in memory, holding what
 * grows: the sections moved out of the way of one more program header (when no PT_NULL
 * entry can be reused) or, when they cannot move, the program header table itself; the
 * interpreter, .dynstr and .dynamic. Throws PatchError when the file cannot take one.
 */
export function placeNewSegment(view: FileView, req: GrowthRequest): SegmentPlacement {
  const { elf, phdrs, is64, oldSize } = view;
  const phent = elf.header.e_phentsize;
  if (elf.header.e_phnum === 0xffff) throw new PatchError("the program header count is extended (PN_XNUM): not supported");
  const loads = phdrs.filter((ph) => ph.p_type === PT_LOAD);
  if (loads.length === 0) throw new PatchError("has no PT_LOAD segment to add to");

  // Program header slots for the new PT_LOAD (and the added note's PT_NOTE): PT_NULL
  // entries, or more entries after the table, made free by moving what follows it; else
  // the table moves (phdr-table.ts).
  const wanted = req.note ? 2 : 1;
  const nullsReused = phdrs.flatMap((ph, i) => (ph.p_type === PT_NULL ? [i] : [])).slice(0, wanted);
  const grow = wanted - nullsReused.length;
  let toMove: Omit<Block, "newOffset" | "newAddr">[] = [];
  let table: TableMove | null = null;
  if (grow > 0) {
    try {
      toMove = roomAfterTable(view, req, grow);
    } catch (e) {
      if (!(e instanceof PatchError)) throw e;
      table = tableMove(view, e.message, grow);
    }
  }

  // The new segment: after the end of the file, and above every segment in memory.
  const align = loads.reduce((a, ph) => (ph.p_align > a ? ph.p_align : a), view.minPage);
  const maxEnd = loads.reduce((a, ph) => (ph.p_vaddr + ph.p_memsz > a ? ph.p_vaddr + ph.p_memsz : a), 0n);
  const wordAlign = is64 ? 8 : 4;
  const contentAlign = Math.max(wordAlign, ...toMove.map((b) => b.align));
  const offset = alignUp(oldSize, contentAlign);
  // A gap as large as the largest symbol: eu-elflint takes a relocation to modify
  // r_offset + st_size bytes, and would see the symbols just below reach into a read-only
  // segment placed right after. Address space only; the file does not grow for it.
  const gap = elf.maxDynamicSymbolSize();
  const lowest = alignUpBig(maxEnd + (gap < MAX_GAP ? gap : MAX_GAP), align);
  const vaddr = lowest + (BigInt(offset) % align);
  const space = new SpaceAllocator(offset, vaddr);
  const phdrTable: At | null = table ? space.place(table.entries * phent, wordAlign) : null;
  const blocks: Block[] = toMove.map((b) => {
    const at = space.place(b.end - b.start, b.align, b.start % b.align);
    return { ...b, newOffset: at.offset, newAddr: at.vaddr };
  });
  const interp: At | null = req.interp ? space.place(req.interp.length, 1) : null;
  const dynstr: At | null = req.dynstr ? space.place(req.dynstr.newSize, 1) : null;
  let dynamic: SegmentPlacement["dynamic"] = null;
  if (req.dynamicSlots > 0) {
    const size = req.dynamicSlots * dynamicEntrySize(is64);
    dynamic = { ...space.place(size, wordAlign), size };
  }
  const note: At | null = req.note ? space.place(req.note.length, 4) : null;
  const size = space.end - offset;
  return {
    kind: "new-segment",
    segment: { offset, vaddr, size, align, flags: PF_R | (req.writable ? PF_W : 0) },
    nullsReused,
    phdrTable,
    blocks,
    interp,
    dynstr,
    dynamic,
    note,
    growth: space.end - oldSize,
  };
}

/** Room for `grow` more entries after the program header table: the blocks to move out of it. Throws PatchError when there is none. */
function roomAfterTable(view: FileView, req: GrowthRequest, grow: number): Omit<Block, "newOffset" | "newAddr">[] {
  const { elf } = view;
  if (!view.sections) throw new PatchError("must grow, and has no section headers to tell what can move to make room for a program header");
  const start = Number(elf.header.e_phoff) + elf.phnum * elf.header.e_phentsize;
  const end = start + grow * elf.header.e_phentsize;
  const first = view.phdrs.find((ph) => ph.p_type === PT_LOAD)!;
  if (BigInt(end) > first.p_offset + first.p_filesz || BigInt(start) < first.p_offset) {
    throw new PatchError("the program header table is not at the start of the first PT_LOAD: cannot grow it");
  }
  return blocksToMove(view, start, end, req.interp !== null);
}

/**
 * The sections in [start, end) and what must move with them: every section of a note
 * segment they belong to. Each must be a kind only the program headers and the dynamic
 * table point at.
 */
function blocksToMove(view: FileView, start: number, end: number, interpMovesAnyway: boolean): Omit<Block, "newOffset" | "newAddr">[] {
  const secs = view.sections!;
  const { phdrs, elf } = view;
  const interpPh = phdrs.find((ph) => ph.p_type === PT_INTERP);
  const overlaps = (s: SectionHeader, a: number, b: number) => Number(s.sh_offset) < b && Number(s.sh_offset + s.sh_size) > a;
  const isInterp = (s: SectionHeader) => interpPh !== undefined && s.sh_type === SHT_PROGBITS && s.sh_offset === interpPh.p_offset;
  const chosen = new Set<number>();
  secs.forEach((s, i) => {
    if (isLoaded(s) && overlaps(s, start, end)) chosen.add(i);
  });
  // Whole note segments move together, keeping their internal layout.
  for (let again = true; again; ) {
    again = false;
    for (const ph of phdrs) {
      if (ph.p_type !== PT_NOTE && ph.p_type !== PT_GNU_PROPERTY) continue;
      const a = Number(ph.p_offset);
      const b = a + Number(ph.p_filesz);
      if (![...chosen].some((i) => overlaps(secs[i]!, a, b))) continue;
      secs.forEach((s, i) => {
        if (isLoaded(s) && overlaps(s, a, b) && !chosen.has(i)) {
          chosen.add(i);
          again = true;
        }
      });
    }
  }
  for (const i of chosen) {
    const s = secs[i]!;
    const movable = MOVABLE_SECTION_TYPES.has(s.sh_type) || isInterp(s);
    if (!movable) {
      throw new PatchError(`must add a program header, but section ${s.name || i} follows the program header table and cannot move`);
    }
    if (s.sh_type === SHT_DYNAMIC) throw new PatchError("the dynamic section follows the program header table");
  }
  if (interpMovesAnyway) for (const i of [...chosen]) if (isInterp(secs[i]!)) chosen.delete(i);
  // Contiguous runs become blocks.
  const order = [...chosen].sort((x, y) => Number(secs[x]!.sh_offset - secs[y]!.sh_offset));
  const blocks: { start: number; end: number; addr: bigint; align: number; sections: number[] }[] = [];
  for (const i of order) {
    const s = secs[i]!;
    const a = Number(s.sh_offset);
    const b = a + Number(s.sh_size);
    const al = Math.max(1, Number(s.sh_addralign));
    const last = blocks.at(-1);
    const gapClear = last && a >= last.end && a - last.end < 16 && !secs.some((o, k) => !chosen.has(k) && isLoaded(o) && overlaps(o, last.end, a));
    if (last && gapClear) {
      last.end = b;
      last.align = Math.max(last.align, al);
      last.sections.push(i);
    } else {
      blocks.push({ start: a, end: b, addr: s.sh_addr, align: al, sections: [i] });
    }
  }
  // Nothing else may point into a moved block.
  for (const bl of blocks) {
    const lo = bl.addr;
    const hi = bl.addr + BigInt(bl.end - bl.start);
    for (const e of elf.dynamic?.entries ?? []) {
      if (FIXED_POINTER_TAGS.has(e.d_tag) && e.d_val >= lo && e.d_val < hi) {
        throw new PatchError(`dynamic tag ${hex(e.d_tag)} points into a section that would move`);
      }
    }
    for (const ph of phdrs) {
      if (ph.p_type === PT_LOAD || ph.p_type === PT_PHDR || ph.p_filesz === 0n) continue;
      const a = Number(ph.p_offset);
      const b = a + Number(ph.p_filesz);
      if (b <= bl.start || a >= bl.end) continue;
      const inside = a >= bl.start && b <= bl.end;
      const shiftable = ph.p_type === PT_NOTE || ph.p_type === PT_GNU_PROPERTY || (ph.p_type === PT_INTERP && !interpMovesAnyway);
      if (!(inside && shiftable) && !(ph.p_type === PT_INTERP && interpMovesAnyway)) {
        throw new PatchError(`segment of type ${hex(ph.p_type)} overlaps a section that would move`);
      }
    }
  }
  return blocks;
}
