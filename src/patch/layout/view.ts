// What every layout strategy reads of the file, and what each decides: the shared types of
// the planner's layout step, and the helpers the strategies have in common.
import {
  DT_FLAGS,
  DT_GNU_HASH,
  DT_HASH,
  DT_JMPREL,
  DT_REL,
  DT_RELA,
  DT_RELR,
  DT_STRTAB,
  DT_SYMTAB,
  DT_TEXTREL,
  DT_VERDEF,
  DT_VERNEED,
  DT_VERSYM,
  DF_TEXTREL,
  PT_LOAD,
  SHF_ALLOC,
  SHT_GNU_HASH,
  SHT_GNU_verdef,
  SHT_GNU_verneed,
  SHT_GNU_versym,
  SHT_DYNSYM,
  SHT_HASH,
  SHT_NOBITS,
  SHT_NOTE,
  SHT_REL,
  SHT_RELA,
  SHT_RELR,
  SHT_STRTAB,
  isNonAddressTag,
  type DynamicEntry,
  type ElfFile,
  type ProgramHeader,
  type SectionHeader,
} from "../../elf/index.js";
import { PatchError } from "../../errors.js";
import type { StringPlan } from "../strings.js";

/** The file as the layout step sees it: read-only, with the program headers as the edits left them. */
export interface FileView {
  readonly elf: ElfFile;
  readonly phdrs: readonly ProgramHeader[];
  /** Section headers, when usable; the layouts that move sections need them. */
  readonly sections: readonly SectionHeader[] | null;
  readonly oldSize: number;
  /** Smallest alignment of a new segment (the file's own p_align wins when larger). */
  readonly minPage: bigint;
  readonly is64: boolean;
  readonly little: boolean;
}

/** What must find new room: the grown string table, a longer interpreter, a larger dynamic table. */
export interface GrowthRequest {
  /** The interpreter's new bytes (with its NUL), when they no longer fit PT_INTERP. */
  readonly interp: Uint8Array | null;
  /** The string table, when strings are appended to it. */
  readonly dynstr: StringPlan | null;
  /** Entries the moved dynamic table gets (0: it stays). */
  readonly dynamicSlots: number;
  /** The new room must be writable (it holds .dynamic). */
  readonly writable: boolean;
  /** A note section to add (whole note records): it goes into a new segment, with its own PT_NOTE. */
  readonly note?: Uint8Array | null;
}

/** A run of sections moved together, from [start, end) in the old file to newOffset/newAddr. */
export interface Block {
  readonly start: number;
  readonly end: number;
  readonly addr: bigint;
  readonly align: number;
  readonly sections: number[];
  readonly newOffset: number;
  readonly newAddr: bigint;
}

/** Where a piece went: file offset and address. */
export interface At {
  readonly offset: number;
  readonly vaddr: bigint;
}

/** What every placement says: the moved blocks, and where .dynstr and the interpreter now are. */
interface PlacementCommon {
  readonly blocks: readonly Block[];
  /** .dynstr's place (unchanged by the slack layout, which grows it where it is). */
  readonly dynstr: At | null;
  /** The interpreter's new place, when it moved. */
  readonly interp: At | null;
}

/** .dynstr grows where it is: its PT_LOAD (program header `index`) extends `by` bytes into the unused space after it. */
export interface SlackPlacement extends PlacementCommon {
  readonly kind: "slack";
  readonly index: number;
  readonly by: number;
  /** Bytes between the grown .dynstr and the slid sections, cleared. */
  readonly pad: { readonly offset: number; readonly size: number } | null;
}

/** patchelf's layout for executables: `shift` bytes inserted at the start of the file. */
export interface ShiftPlacement extends PlacementCommon {
  readonly kind: "shift";
  readonly shift: number;
  /** The first PT_LOAD's program header index. */
  readonly firstLoad: number;
  /** End (new offset) of the rewritten start of the file. */
  readonly regionEnd: number;
  /** End of the program header table (old offset): writes below it stay at the start. */
  readonly headerEnd: number;
}

/** A new PT_LOAD after the end of the file. */
export interface SegmentPlacement extends PlacementCommon {
  readonly kind: "new-segment";
  readonly segment: { readonly offset: number; readonly vaddr: bigint; readonly size: number; readonly align: bigint; readonly flags: number };
  /**
   * The PT_NULL program headers the new PT_LOAD (and PT_NOTE) replace, ascending; the
   * table grows by the entries they do not provide, after blocks moved (or moves).
   */
  readonly nullsReused: readonly number[];
  /** The program header table's new place (first in the segment), when it moved; else null. */
  readonly phdrTable: At | null;
  /** The added note section. */
  readonly note: At | null;
  /** The moved dynamic table. */
  readonly dynamic: (At & { readonly size: number }) | null;
  /** Bytes the file grows by. */
  readonly growth: number;
}

/** One layout decision; null from the planner when nothing has to move. */
export type Placement = SlackPlacement | ShiftPlacement | SegmentPlacement;

/** Address tags the rewriter updates when it moves what they point to. */
export const MOVABLE_POINTER_TAGS = new Set<bigint>([DT_GNU_HASH, DT_HASH, DT_SYMTAB, DT_STRTAB, DT_VERSYM, DT_VERNEED, DT_VERDEF].map(BigInt));
/** Section types that only the dynamic table and program headers point at: safe to move. */
export const MOVABLE_SECTION_TYPES = new Set([SHT_NOTE, SHT_GNU_HASH, SHT_HASH, SHT_DYNSYM, SHT_GNU_versym, SHT_GNU_verneed, SHT_GNU_verdef]);
/** Relocation tables: only ld.so reads them, through these tags; they may slide within their segment. */
export const RELOCATION_SECTION_TYPES = new Set([SHT_RELA, SHT_REL, SHT_RELR]);
export const RELOCATION_TAGS = new Set<bigint>([DT_RELA, DT_REL, DT_JMPREL, DT_RELR].map(BigInt));

/** A section with contents in memory (allocated, with bytes in the file). */
export const isLoaded = (s: SectionHeader): boolean => (s.sh_flags & BigInt(SHF_ALLOC)) !== 0n && s.sh_type !== SHT_NOBITS && s.sh_size > 0n;

/** The address after moving, for an address inside a moved block; otherwise unchanged. */
export function movedAddress(blocks: readonly Block[], addr: bigint): bigint {
  for (const b of blocks) {
    if (addr >= b.addr && addr < b.addr + BigInt(b.end - b.start)) return b.newAddr + (addr - b.addr);
  }
  return addr;
}

/** The new offset of an old offset inside a moved block, or null. */
export function movedOffset(blocks: readonly Block[], offset: number): number | null {
  for (const b of blocks) if (offset >= b.start && offset < b.end) return b.newOffset + (offset - b.start);
  return null;
}

/** The names of the moved sections, in block order. */
export function movedNames(view: FileView, blocks: readonly Block[]): string[] {
  const secs = view.sections ?? [];
  return blocks.flatMap((b) => b.sections.map((i) => secs[i]!.name || `section ${i}`));
}

/** The largest p_align of the PT_LOADs, at least the minimum page. */
export function pageOf(view: FileView): bigint {
  return view.phdrs.reduce((a, ph) => (ph.p_type === PT_LOAD && ph.p_align > a ? ph.p_align : a), view.minPage);
}

/** The address an offset is loaded at, through the PT_LOADs. */
export function offsetToAddress(view: FileView, offset: number): bigint {
  for (const p of view.phdrs) {
    if (p.p_type === PT_LOAD && BigInt(offset) >= p.p_offset && BigInt(offset) < p.p_offset + p.p_filesz) {
      return p.p_vaddr + (BigInt(offset) - p.p_offset);
    }
  }
  throw new PatchError(`file offset 0x${offset.toString(16)} is not in a loaded segment`);
}

/** The program headers other than `skip` whose file contents overlap [from, to), with their file ranges. */
export function headersOverlapping(view: FileView, from: number, to: number, skip: number): { ph: ProgramHeader; a: number; b: number }[] {
  const out: { ph: ProgramHeader; a: number; b: number }[] = [];
  view.phdrs.forEach((ph, k) => {
    const a = Number(ph.p_offset);
    const b = a + Number(ph.p_filesz);
    if (k !== skip && ph.p_filesz > 0n && b > from && a < to) out.push({ ph, a, b });
  });
  return out;
}

/** The section header of .dynstr (the string table DT_STRTAB points at, where the plan read it), or -1. */
export function dynstrSection(view: FileView, dynstr: StringPlan): number {
  const secs = view.sections!;
  const addr = view.elf.dynamicValue(DT_STRTAB);
  const i = secs.findIndex((s) => isLoaded(s) && s.sh_type === SHT_STRTAB && s.sh_addr === addr);
  return i >= 0 && Number(secs[i]!.sh_offset) === dynstr.fileOffset ? i : -1;
}

/**
 * The sections with file contents in [from, to), by index, when each lies wholly inside,
 * is loaded and passes `allowed`; null when one straddles a bound or does not.
 */
export function sectionsWithin(
  view: FileView,
  from: number,
  to: number,
  allowed: (s: SectionHeader, index: number) => boolean,
): number[] | null {
  const secs = view.sections!;
  const out: number[] = [];
  for (let i = 0; i < secs.length; i++) {
    const s = secs[i]!;
    if (s.sh_type === SHT_NOBITS || s.sh_size === 0n) continue;
    const a = Number(s.sh_offset);
    const b = a + Number(s.sh_size);
    if (b <= from || a >= to) continue;
    if (a < from || b > to || (s.sh_flags & BigInt(SHF_ALLOC)) === 0n || !allowed(s, i)) return null;
    out.push(i);
  }
  return out;
}

/** DT_TEXTREL, or DF_TEXTREL in DT_FLAGS: relocations may write anywhere, even into tables a layout would move. */
export function hasTextRelocations(dyn: readonly DynamicEntry[]): boolean {
  const flags = dyn.find((e) => e.d_tag === BigInt(DT_FLAGS))?.d_val ?? 0n;
  return dyn.some((e) => e.d_tag === BigInt(DT_TEXTREL)) || (flags & BigInt(DF_TEXTREL)) !== 0n;
}

/** True when a dynamic entry that may hold an address, and that `updated` does not cover, points into [lo, hi). */
export function foreignTagPointsInto(dyn: readonly DynamicEntry[], lo: bigint, hi: bigint, updated: (tag: bigint) => boolean): boolean {
  return dyn.some((e) => e.d_val >= lo && e.d_val < hi && !isNonAddressTag(e.d_tag) && !updated(e.d_tag));
}
