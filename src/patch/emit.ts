// The planner's last step: every byte the rewrite writes, as writes at offsets of the new
// file. Content writes planned at old offsets are redirected into moved blocks (or past a
// shift); moved tables, the program header table and the section headers that describe
// moved or resized contents follow the placement.
import {
  DT_STRTAB,
  PF_W,
  PT_DYNAMIC,
  PT_GNU_PROPERTY,
  PT_INTERP,
  PT_LOAD,
  PT_NOTE,
  PT_NULL,
  PT_PHDR,
  SHF_ALLOC,
  SHF_WRITE,
  SHT_DYNAMIC,
  SHT_GNU_verneed,
  SHT_NOBITS,
  SHT_PROGBITS,
  SHT_STRTAB,
  elfHeaderLayout,
  EI_NIDENT,
  type ProgramHeader,
  type RawSectionHeader,
} from "../elf/index.js";
import { Encoder, encodeProgramHeader, encodeSectionHeader, programHeaderSize, sectionHeaderSize } from "../elf/write/index.js";
import { PatchError } from "../errors.js";
import { addNoteSection, insertNoteHeader } from "./add-note.js";
import { movedAddress, movedNames, movedOffset, type FileView, type GrowthRequest, type Placement, type ShiftPlacement } from "./layout/view.js";
import type { EditModel, PlannedWrite } from "./model.js";
import { concat } from "./strings.js";

/** What emission needs besides the placement: the edited model, what had to grow, and the planned content writes. */
export interface EmitInput {
  readonly model: EditModel;
  readonly request: GrowthRequest | null;
  /** Writes at old offsets, in the order planned (a later one wins where two land in one moved block). */
  readonly contents: readonly PlannedWrite[];
  /** The moved dynamic table's bytes (new segment only). */
  readonly movedDynamic: Uint8Array | null;
}

/** All writes of the rewrite, checked not to overlap. */
export function emitWrites(view: FileView, placement: Placement | null, input: EmitInput): PlannedWrite[] {
  const writes: PlannedWrite[] = [];
  const blocks = placement?.blocks ?? [];
  const shift = placement?.kind === "shift" ? placement.shift : 0;
  const { request } = input;

  // Block images, with content writes that land in them applied.
  const blockImages = blocks.map((b) => Uint8Array.from(view.elf.source.read(b.start, b.end - b.start)));
  for (const w of input.contents) {
    const bi = blocks.findIndex((b) => w.offset >= b.start && w.offset < b.end);
    if (bi >= 0) blockImages[bi]!.set(w.bytes, w.offset - blocks[bi]!.start);
    // Shift mode: the ELF header stays at the start; everything else moves.
    else if (placement?.kind === "shift" && w.offset < placement.headerEnd) writes.push(w);
    else writes.push({ ...w, offset: w.offset + shift });
  }

  // Moved contents: into the new segment, or slid within their own.
  blocks.forEach((b, i) => writes.push({ offset: b.newOffset, bytes: blockImages[i]!, what: `moved ${movedNames(view, blocks).join(", ")}` }));
  if (placement?.interp && request?.interp) writes.push({ offset: placement.interp.offset, bytes: request.interp, what: "interpreter (moved)" });
  const dynstr = request?.dynstr;
  if (dynstr && placement?.kind === "slack") {
    writes.push({ offset: dynstr.fileOffset + dynstr.oldSize, bytes: concat(dynstr.appended), what: ".dynstr (grown in place)" });
    if (placement.pad) writes.push({ offset: placement.pad.offset, bytes: new Uint8Array(placement.pad.size), what: "padding after .dynstr" });
  } else if (dynstr && placement) {
    writes.push({ offset: placement.dynstr!.offset, bytes: dynstr.image(), what: ".dynstr (moved)" });
  }
  if (placement?.kind === "new-segment" && placement.dynamic && input.movedDynamic) {
    writes.push({ offset: placement.dynamic.offset, bytes: input.movedDynamic, what: ".dynamic (moved)" });
  }

  writes.push(...programHeaderWrites(view, placement, input.model));
  writes.push(...sectionHeaderWrites(view, placement, input));
  if (placement?.kind === "new-segment" && input.model.note) addNoteSection(view, placement, input.model.note, writes);
  if (placement?.kind === "shift") consolidateStart(view, placement, writes);
  assertDisjoint(writes);
  return writes;
}

/** The program header table (and e_phnum) when a header changed, moved or was added. */
function programHeaderWrites(view: FileView, placement: Placement | null, model: EditModel): PlannedWrite[] {
  const { elf, is64, little } = view;
  const blocks = placement?.blocks ?? [];
  const phdrs = model.phdrs.map((ph) => ({ ...ph }) as { -readonly [K in keyof ProgramHeader]: ProgramHeader[K] });
  let phChanged = model.phdrsModified;
  if (placement?.kind === "slack") {
    const ph = phdrs[placement.index]!;
    ph.p_filesz += BigInt(placement.by);
    ph.p_memsz += BigInt(placement.by);
    phChanged = true;
  }
  const follow = (ph: (typeof phdrs)[number]) => {
    const to = movedOffset(blocks, Number(ph.p_offset));
    if (to === null) return false;
    const d = BigInt(to) - ph.p_offset;
    ph.p_offset += d;
    ph.p_vaddr = movedAddress(blocks, ph.p_vaddr);
    ph.p_paddr = ph.p_vaddr;
    phChanged = true;
    return true;
  };
  const D = BigInt(placement?.kind === "shift" ? placement.shift : 0);
  phdrs.forEach((ph, k) => {
    let placed = false;
    if (ph.p_type === PT_NOTE || ph.p_type === PT_GNU_PROPERTY || ph.p_type === PT_INTERP) placed = follow(ph);
    if (ph.p_type === PT_INTERP && placement?.interp) {
      ph.p_offset = BigInt(placement.interp.offset);
      ph.p_vaddr = ph.p_paddr = placement.interp.vaddr;
      ph.p_filesz = ph.p_memsz = BigInt(interpSize(model));
      phChanged = placed = true;
    }
    if (placement?.kind === "shift" && !placed) {
      // The first segment starts lower and covers the inserted bytes; the table stays at
      // the start of the file; everything else keeps its address one shift later in the file.
      if (k === placement.firstLoad) {
        ph.p_vaddr -= D;
        ph.p_paddr -= D;
        ph.p_filesz += D;
        ph.p_memsz += D;
      } else if (ph.p_type === PT_PHDR) {
        ph.p_vaddr -= D;
        ph.p_paddr -= D;
      } else if (ph.p_offset !== 0n || ph.p_filesz !== 0n) {
        ph.p_offset += D;
      }
      phChanged = true;
    }
  });
  const dynamicAt = placement?.kind === "new-segment" ? placement.dynamic : null;
  for (const ph of phdrs) {
    if (ph.p_type === PT_DYNAMIC && dynamicAt) {
      ph.p_offset = BigInt(dynamicAt.offset);
      ph.p_vaddr = ph.p_paddr = dynamicAt.vaddr;
      ph.p_filesz = ph.p_memsz = BigInt(dynamicAt.size);
      ph.p_flags |= PF_W;
      phChanged = true;
    }
  }
  if (placement?.kind === "new-segment") {
    const seg = placement.segment;
    const load: ProgramHeader = {
      p_type: PT_LOAD,
      p_flags: seg.flags,
      p_offset: BigInt(seg.offset),
      p_vaddr: seg.vaddr,
      p_paddr: seg.vaddr,
      p_filesz: BigInt(seg.size),
      p_memsz: BigInt(seg.size),
      p_align: seg.align,
    };
    for (const i of [...placement.nullsReused].reverse()) phdrs.splice(i, 1);
    let lastLoad = -1;
    phdrs.forEach((ph, i) => {
      if (ph.p_type === PT_LOAD) lastLoad = i;
    });
    phdrs.splice(lastLoad + 1, 0, load);
    if (placement.note && model.note) insertNoteHeader(phdrs, placement.note, model.note);
    // A moved table gets one spare PT_NULL, where a later edit's PT_LOAD goes.
    if (placement.phdrTable) phdrs.push({ p_type: PT_NULL, p_flags: 0, p_offset: 0n, p_vaddr: 0n, p_paddr: 0n, p_filesz: 0n, p_memsz: 0n, p_align: 0n });
    const tableSize = BigInt(phdrs.length * elf.header.e_phentsize);
    for (const ph of phdrs) {
      if (ph.p_type !== PT_PHDR) continue;
      ph.p_filesz = ph.p_memsz = tableSize;
      if (placement.phdrTable) {
        ph.p_offset = BigInt(placement.phdrTable.offset);
        ph.p_vaddr = ph.p_paddr = placement.phdrTable.vaddr;
      }
    }
    phChanged = true;
  }
  if (!phChanged) return [];
  const writes: PlannedWrite[] = [];
  const ent = elf.header.e_phentsize;
  const table = new Uint8Array(phdrs.length * ent);
  phdrs.forEach((ph, i) => table.set(encodeProgramHeader(ph, is64, little), i * ent));
  const moved = placement?.kind === "new-segment" ? placement.phdrTable : null;
  writes.push({ offset: moved ? moved.offset : Number(elf.header.e_phoff), bytes: table, what: moved ? "program header table (moved)" : "program header table" });
  if (moved) {
    const b = new Uint8Array(is64 ? 8 : 4);
    new Encoder(b, little).word(0, BigInt(moved.offset), is64);
    writes.push({ offset: EI_NIDENT + elfHeaderLayout(is64).offset.e_phoff, bytes: b, what: "e_phoff" });
  }
  if (phdrs.length !== elf.phnum) {
    const b = new Uint8Array(2);
    new Encoder(b, little).u16(0, phdrs.length);
    writes.push({ offset: EI_NIDENT + elfHeaderLayout(is64).offset.e_phnum, bytes: b, what: "e_phnum" });
  }
  if (programHeaderSize(is64) > ent) throw new PatchError(`e_phentsize ${ent} is too small`);
  return writes;
}

/** Section headers that describe moved or resized contents (all of them past a shift). */
function sectionHeaderWrites(view: FileView, placement: Placement | null, { model, request }: EmitInput): PlannedWrite[] {
  const { elf, is64, little } = view;
  const secs = view.sections;
  const shent = elf.header.e_shentsize;
  if (!secs || shent < sectionHeaderSize(is64)) return [];
  const blocks = placement?.blocks ?? [];
  const shift = placement?.kind === "shift" ? placement.shift : 0;
  const mapOffset = (offset: number) => movedOffset(blocks, offset) ?? offset + shift;
  const interpPh = model.interpPh;
  const dynamicAt = placement?.kind === "new-segment" ? placement.dynamic : null;
  const live = model.verneed.filter((v) => !v.removed);
  const verneedFirstRemoved = model.verneed.length > 0 && model.verneed[0]!.removed === true;
  const dynstrAddr = elf.dynamicValue(DT_STRTAB);
  const writes: PlannedWrite[] = [];
  secs.forEach((s, i) => {
    const n: { -readonly [K in keyof RawSectionHeader]: RawSectionHeader[K] } = { ...s };
    let changed = false;
    let placed = false;
    const to = movedOffset(blocks, Number(s.sh_offset));
    if (to !== null && (s.sh_flags & BigInt(SHF_ALLOC)) !== 0n && s.sh_type !== SHT_NOBITS && s.sh_size > 0n) {
      n.sh_addr = movedAddress(blocks, s.sh_addr);
      n.sh_offset = BigInt(to);
      changed = placed = true;
    }
    if (request?.dynstr && placement?.dynstr && s.sh_type === SHT_STRTAB && s.sh_addr === dynstrAddr && (s.sh_flags & BigInt(SHF_ALLOC)) !== 0n) {
      n.sh_addr = placement.dynstr.vaddr;
      n.sh_offset = BigInt(placement.dynstr.offset);
      n.sh_size = BigInt(request.dynstr.newSize);
      changed = placed = true;
    }
    if (s.sh_type === SHT_DYNAMIC && dynamicAt) {
      n.sh_addr = dynamicAt.vaddr;
      n.sh_offset = BigInt(dynamicAt.offset);
      n.sh_size = BigInt(dynamicAt.size);
      n.sh_flags |= BigInt(SHF_WRITE);
      changed = placed = true;
    }
    if (placement?.interp && interpPh && s.sh_type === SHT_PROGBITS && s.sh_offset === interpPh.p_offset && s.sh_size > 0n) {
      n.sh_addr = placement.interp.vaddr;
      n.sh_offset = BigInt(placement.interp.offset);
      n.sh_size = BigInt(interpSize(model));
      changed = placed = true;
    }
    if (s.sh_type === SHT_GNU_verneed && (verneedFirstRemoved || s.sh_info !== live.length)) {
      if (verneedFirstRemoved && live[0] !== undefined) {
        // The table now starts at the first live entry.
        const delta = BigInt(live[0].offset) - s.sh_offset;
        n.sh_offset = BigInt(mapOffset(Number(s.sh_offset))) + delta;
        n.sh_addr = movedAddress(blocks, s.sh_addr) + delta;
        n.sh_size = s.sh_size - delta;
        placed = true;
      }
      n.sh_info = live.length;
      changed = true;
    }
    if (shift > 0 && i > 0 && !placed) {
      n.sh_offset = s.sh_offset + BigInt(shift);
      changed = true;
    }
    if (changed) {
      writes.push({ offset: Number(elf.header.e_shoff) + shift + i * shent, bytes: encodeSectionHeader(n, is64, little), what: `section header ${s.name || i}` });
    }
  });
  return writes;
}

/** PT_INTERP's size for the edited interpreter, its NUL included. */
function interpSize(model: EditModel): number {
  return model.interp !== null ? new TextEncoder().encode(model.interp).length + 1 : 0;
}

/**
 * Shift mode: the start of the new file, [0, end of the laid-out region), becomes one write
 * holding the ELF header (e_shoff moved), the program header table, the laid-out sections
 * and zeros between them, so no byte of the old header or tables stays behind.
 */
function consolidateStart(view: FileView, placement: ShiftPlacement, writes: PlannedWrite[]): void {
  const { elf, is64, little } = view;
  const end = placement.regionEnd;
  const start = new Uint8Array(end);
  start.set(elf.source.read(0, elf.header.e_ehsize), 0);
  const e_shoff = elf.header.e_shoff;
  if (e_shoff !== 0n) {
    const shoff = new Uint8Array(is64 ? 8 : 4);
    new Encoder(shoff, little).word(0, e_shoff + BigInt(placement.shift), is64);
    start.set(shoff, EI_NIDENT + elfHeaderLayout(is64).offset.e_shoff);
  }
  const sectionHeadersWritten = view.sections !== null && elf.header.e_shentsize >= sectionHeaderSize(is64);
  if (!sectionHeadersWritten && e_shoff !== 0n) throw new PatchError("section headers too small to rewrite");
  // From the last write to the first, so that where two overlap the earlier one wins.
  for (let i = writes.length - 1; i >= 0; i--) {
    const w = writes[i]!;
    if (w.offset >= end) continue;
    if (w.offset + w.bytes.length > end) throw new PatchError(`its ${w.what} overlaps the tables at the start of the file: refusing to rewrite it`);
    start.set(w.bytes, w.offset);
    writes.splice(i, 1);
  }
  writes.push({ offset: 0, bytes: start, what: "start of the file (headers and laid-out tables)" });
}

function assertDisjoint(writes: readonly PlannedWrite[]): void {
  const sorted = [...writes].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (prev.offset + prev.bytes.length > sorted[i]!.offset) {
      // Two structures of the file claim the same bytes (a corrupt or hostile file): refuse.
      throw new PatchError(`its ${prev.what} and ${sorted[i]!.what} overlap in the file: refusing to rewrite it`);
    }
  }
}
