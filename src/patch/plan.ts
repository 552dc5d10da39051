import {
  DT_AUDIT,
  DT_DEBUG,
  DT_FLAGS,
  DT_FLAGS_1,
  DT_AUXILIARY,
  DT_CONFIG,
  DT_DEPAUDIT,
  DT_FILTER,
  DT_FINI,
  DT_FINI_ARRAY,
  DT_GNU_HASH,
  DT_HASH,
  DT_INIT,
  DT_INIT_ARRAY,
  DT_JMPREL,
  DT_NEEDED,
  DT_PLTGOT,
  DT_PREINIT_ARRAY,
  DT_REL,
  DT_RELA,
  DT_RELR,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  DT_SYMTAB,
  DT_TEXTREL,
  DT_USED,
  DT_VERDEF,
  DT_VERNEED,
  DT_VERNEEDNUM,
  DT_VERSYM,
  ET_EXEC,
  DF_1_PIE,
  DF_TEXTREL,
  Encoder,
  PF_R,
  PF_X,
  PF_W,
  PT_DYNAMIC,
  PT_GNU_STACK,
  PT_GNU_PROPERTY,
  PT_INTERP,
  PT_LOAD,
  PT_NOTE,
  PT_NULL,
  PT_PHDR,
  SHF_ALLOC,
  SHF_WRITE,
  SHT_DYNAMIC,
  SHT_DYNSYM,
  SHT_GNU_HASH,
  SHT_GNU_verdef,
  SHT_GNU_verneed,
  SHT_GNU_versym,
  SHT_HASH,
  SHT_NOBITS,
  SHT_NOTE,
  SHT_PROGBITS,
  SHT_REL,
  SHT_RELA,
  SHT_RELR,
  SHT_STRTAB,
  SHT_SYMTAB,
  VERSYM_VERSION,
  checkedNumber,
  decodeDynamicEntries,
  dynamicEntrySize,
  encodeDynamicTable,
  encodeProgramHeader,
  encodeSectionHeader,
  programHeaderSize,
  sectionHeaderSize,
  type DynamicEntry,
  type ElfFile,
  type ProgramHeader,
  type SectionHeader,
  DT_PLTRELSZ,
  DT_RELASZ,
  DT_RELAENT,
  DT_SYMENT,
  DT_SYMBOLIC,
  DT_RELSZ,
  DT_RELENT,
  DT_PLTREL,
  DT_BIND_NOW,
  DT_INIT_ARRAYSZ,
  DT_FINI_ARRAYSZ,
  DT_PREINIT_ARRAYSZ,
  DT_RELRSZ,
  DT_RELRENT,
  DT_RELACOUNT,
  DT_RELCOUNT,
  DT_VERDEFNUM,
} from "../elf/index.js";
import { describeEdit, replacePrefix, splitSearchPath, type Edit } from "./edits.js";
import { RenameError, renameSymbolWrites } from "./rename-symbols.js";

import { PatchError } from "./errors.js";

export { PatchError };

export interface PlannedWrite {
  /** File offset; at or past the old size for the new segment. */
  offset: number;
  bytes: Uint8Array;
  /** What the bytes are, for --dry-run and debugging. */
  what: string;
}

/** What a patch will do to one file, computed without writing anything. */
export interface PatchPlan {
  /** One line per changed value, e.g. `runpath: /a -> /a:/b`. Empty when nothing changes. */
  changes: string[];
  writes: PlannedWrite[];
  oldSize: number;
  newSize: number;
  /** True when everything fits where it is: no new segment, nothing slid. */
  inPlace: boolean;
  /** The new PT_LOAD, when one is added. */
  segment: { offset: number; vaddr: bigint; size: number; flags: string } | null;
  /**
   * Bytes inserted at the start of the file, below an executable's first segment (which
   * then starts that much lower in memory): the old contents move this much later.
   */
  shift: number;
  /** The PT_LOAD (program header index) grown into the unused space after it instead, and by how many bytes. */
  extended: { index: number; bytes: number } | null;
  /** Sections moved into the new segment, or slid within their own to make room, by name. */
  moved: string[];
}

/** Dynamic tags whose value is an offset in the dynamic string table. */
const STRING_TAGS = new Set<bigint>(
  [DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH, DT_AUXILIARY, DT_FILTER, DT_CONFIG, DT_DEPAUDIT, DT_AUDIT, DT_USED].map(BigInt),
);
/** Address tags the rewriter updates when it moves what they point to. */
const MOVABLE_POINTER_TAGS = new Set<bigint>([DT_GNU_HASH, DT_HASH, DT_SYMTAB, DT_STRTAB, DT_VERSYM, DT_VERNEED, DT_VERDEF].map(BigInt));
/** Address tags into code or data that must never move: a block they point into stays put. */
const FIXED_POINTER_TAGS = new Set<bigint>(
  [DT_PLTGOT, DT_RELA, DT_REL, DT_JMPREL, DT_INIT, DT_FINI, DT_INIT_ARRAY, DT_FINI_ARRAY, DT_PREINIT_ARRAY, DT_RELR].map(BigInt),
);
/** Section types that only the dynamic table and program headers point at: safe to move. */
const MOVABLE_SECTION_TYPES = new Set([SHT_NOTE, SHT_GNU_HASH, SHT_HASH, SHT_DYNSYM, SHT_GNU_versym, SHT_GNU_verneed, SHT_GNU_verdef]);
/** Relocation tables: only ld.so reads them, through these tags; they may slide within their segment. */
const RELOCATION_SECTION_TYPES = new Set([SHT_RELA, SHT_REL, SHT_RELR]);
const RELOCATION_TAGS = new Set<bigint>([DT_RELA, DT_REL, DT_JMPREL, DT_RELR].map(BigInt));
/**
 * Tags whose value is never an address (counts, sizes, flags, string offsets): their value
 * may equal a moved address by chance. Any other tag pointing into sliding sections, and not
 * updated, forbids the slide.
 */
const NON_ADDRESS_TAGS = new Set<bigint>(
  [
    ...STRING_TAGS,
    ...[DT_PLTRELSZ, DT_RELASZ, DT_RELAENT, DT_STRSZ, DT_SYMENT, DT_SYMBOLIC, DT_RELSZ, DT_RELENT, DT_PLTREL, DT_TEXTREL, DT_BIND_NOW,
      DT_INIT_ARRAYSZ, DT_FINI_ARRAYSZ, DT_FLAGS, DT_PREINIT_ARRAYSZ, DT_RELRSZ, DT_RELRENT, DT_RELACOUNT, DT_RELCOUNT, DT_FLAGS_1,
      DT_VERDEFNUM, DT_VERNEEDNUM].map(BigInt),
  ],
);
/** A section with contents in memory (allocated, with bytes in the file). */
const isLoaded = (s: SectionHeader) => (s.sh_flags & BigInt(SHF_ALLOC)) !== 0n && s.sh_type !== SHT_NOBITS && s.sh_size > 0n;
/** DT_VALRNGLO..DT_VALRNGHI: values, not addresses. */
const isNonAddressTag = (t: bigint) => NON_ADDRESS_TAGS.has(t) || (t >= 0x6ffffd00n && t <= 0x6ffffdffn);
/** Spare DT_NULL slots given to a moved dynamic table, so that later additions fit in place. */
const DYNAMIC_SPARE = 2;
const MIN_PAGE = 4096n;
/** Largest shift: the start of the file is rewritten in memory (a large p_align makes it large). */
const MAX_SHIFT = 16 << 20;
/** Lowest address a shifted executable may start at: Linux's default vm.mmap_min_addr. */
const MIN_MAP_ADDRESS = 0x10000n;
/** Bound on the address gap left for eu-elflint's view of relocations (see newSegment). */
const MAX_GAP = 1n << 24n;

const utf8 = new TextEncoder();
const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;
const alignUpBig = (n: bigint, a: bigint) => ((n + a - 1n) / a) * a;
const hex = (n: number | bigint) => `0x${n.toString(16)}`;

interface DynSlot {
  tag: bigint;
  val: bigint;
  /** The string for string tags. */
  str?: string;
  /** The string's original offset, while the entry still holds the original string. */
  strOff?: number;
}

interface VerneedEntry {
  offset: number;
  file: string;
  fileOff: number;
  next: number;
  versionIndexes: number[];
  nameOffs: number[];
  rename?: string;
  removed?: boolean;
}

/** A run of sections moved together into the new segment. */
interface Block {
  start: number;
  end: number;
  addr: bigint;
  align: number;
  sections: number[];
  newOffset?: number;
  newAddr?: bigint;
}

/** Computes the rewrite of `elf` that applies `edits`. Reads only; throws PatchError or ElfError. */
export interface PlanOptions {
  /** Smallest alignment of a new segment; the file's own p_align wins when larger. */
  pageSize?: number;
  /**
   * Where what grows goes. "auto" (default): the slack after .dynstr's segment when it
   * fits, else whichever of "shift" and "new-segment" grows the file less. "new-segment":
   * always a new PT_LOAD. "shift": for executables, patchelf's layout whenever the file
   * allows it, else a new PT_LOAD.
   */
  layout?: Layout;
}

export type Layout = "auto" | "new-segment" | "shift";
export const LAYOUTS: readonly Layout[] = ["auto", "new-segment", "shift"];

export function planPatch(elf: ElfFile, edits: readonly Edit[], options: PlanOptions = {}): PatchPlan {
  const page = options.pageSize !== undefined ? BigInt(Math.max(options.pageSize, 1)) : MIN_PAGE;
  try {
    return new Planner(elf, page, options.layout ?? "auto").plan(edits);
  } catch (e) {
    // An encoder's range check: a moved offset or address no longer fits the file's class.
    if (e instanceof RangeError) throw new PatchError(`cannot be rewritten: ${e.message}`);
    throw e;
  }
}

class Planner {
  private readonly is64: boolean;
  private readonly little: boolean;
  private readonly phdrs: ProgramHeader[];
  private readonly sections: readonly SectionHeader[] | null;
  private readonly changes: string[] = [];
  /** Writes that change neither strings nor layout (versym entries, EI_OSABI), at original offsets. */
  private readonly extraWrites: PlannedWrite[] = [];
  /** Set when a program header's own fields changed (PT_GNU_STACK flags). */
  phdrsModified = false;
  /** Dynamic symbols to rename: index -> new name. */
  private readonly renames = new Map<number, string>();

  constructor(
    private readonly elf: ElfFile,
    private readonly minPageSize: bigint = MIN_PAGE,
    private readonly layoutChoice: Layout = "auto",
  ) {
    this.is64 = elf.is64;
    this.little = elf.little;
    this.phdrs = [...elf.programHeaders];
    this.sections = elf.sectionsIfUsable();
  }

  plan(edits: readonly Edit[]): PatchPlan {
    const elf = this.elf;
    const oldSize = elf.source.size;
    const interpPh = this.phdrs.find((p) => p.p_type === PT_INTERP) ?? null;
    const dynPh = this.phdrs.find((p) => p.p_type === PT_DYNAMIC) ?? null;
    const needsDynamic = edits.some((e) => e.op !== "set-interpreter" && e.op !== "set-os-abi" && e.op !== "set-execstack");
    if (needsDynamic && !dynPh) throw new PatchError("has no dynamic section (PT_DYNAMIC): a statically linked file has no NEEDED, RUNPATH or SONAME to edit");

    // ---- the current state
    const oldInterp = interpPh ? elf.interpreter : null;
    let interp = oldInterp;
    const dyn = dynPh ? this.readDynamic(dynPh) : null;
    const slots: DynSlot[] = dyn ? dyn.entries.map((e) => this.slot(e)) : [];
    const verneed = dyn ? this.readVerneed() : [];

    // ---- the edits, on the model
    const searchTags = () => slots.filter((s) => s.tag === BigInt(DT_RUNPATH) || s.tag === BigInt(DT_RPATH));
    const setStr = (s: DynSlot, v: string) => {
      if (s.str !== v) {
        s.str = v;
        delete s.strOff;
      }
    };
    let addedFirst = 0;
    for (const e of edits) {
      switch (e.op) {
        case "set-flags-1": {
          const f = slots.find((x) => x.tag === BigInt(DT_FLAGS_1));
          if (f) f.val |= BigInt(e.bits);
          else slots.push({ tag: BigInt(DT_FLAGS_1), val: BigInt(e.bits) });
          break;
        }
        case "add-debug-tag":
          if (!slots.some((x) => x.tag === BigInt(DT_DEBUG))) slots.push({ tag: BigInt(DT_DEBUG), val: 0n });
          break;
        case "clear-symbol-version":
          this.clearSymbolVersion(e.name);
          break;
        case "set-os-abi":
          if (elf.header.ei_osabi !== e.value) {
            this.extraWrites.push({ offset: 7, bytes: Uint8Array.of(e.value), what: "EI_OSABI" });
            this.changes.push(`os/abi: ${elf.header.ei_osabi} -> ${e.value}`);
          }
          break;
        case "set-execstack": {
          const i = this.phdrs.findIndex((p) => p.p_type === PT_GNU_STACK);
          if (i < 0) throw new PatchError("has no PT_GNU_STACK program header to change");
          const ph = this.phdrs[i]!;
          const flags = e.executable ? ph.p_flags | PF_X : ph.p_flags & ~PF_X;
          if (flags !== ph.p_flags) {
            this.phdrs[i] = { ...ph, p_flags: flags };
            this.phdrsModified = true;
            this.changes.push(`execstack: ${e.executable ? "- -> X" : "X -> -"}`);
          }
          break;
        }
        case "rename-symbols": {
          const map = new Map(e.map);
          const offs = elf.symbolNameOffsets();
          for (let i = 1; i < offs.length; i++) {
            const old = this.renames.get(i) ?? elf.dynamicStrings.get(offs[i]!);
            const to = map.get(old);
            if (to !== undefined && to !== old) {
              if (to === "") throw new PatchError(`cannot rename ${old} to an empty name`);
              this.renames.set(i, to);
            }
          }
          break;
        }
        case "set-interpreter":
          if (!interpPh) throw new PatchError("has no interpreter (PT_INTERP) to set: a shared library or a statically linked program");
          if (e.path === "") throw new PatchError("the interpreter cannot be empty");
          interp = e.path;
          break;
        case "set-search-path": {
          const value = e.paths.join(":");
          const existing = searchTags();
          if (existing.length > 0) for (const s of existing) setStr(s, value);
          else slots.push({ tag: BigInt(e.kind === "rpath" ? DT_RPATH : DT_RUNPATH), val: 0n, str: value });
          break;
        }
        case "add-runpath": {
          const existing = searchTags();
          if (existing.length === 0) slots.push({ tag: BigInt(e.kind === "rpath" ? DT_RPATH : DT_RUNPATH), val: 0n, str: e.path });
          for (const s of existing) {
            const parts = splitSearchPath(s.str!);
            if (!parts.includes(e.path)) setStr(s, [...parts, e.path].join(":"));
          }
          break;
        }
        case "remove-runpath":
          for (const s of searchTags()) slots.splice(slots.indexOf(s), 1);
          break;
        case "convert-search-path": {
          const from = BigInt(e.to === "runpath" ? DT_RPATH : DT_RUNPATH);
          const to = BigInt(e.to === "runpath" ? DT_RUNPATH : DT_RPATH);
          for (const s of slots) if (s.tag === from) s.tag = to;
          break;
        }
        case "replace-prefix": {
          if (interp !== null) interp = replacePrefix(interp, e.from, e.to) ?? interp;
          for (const s of searchTags()) {
            setStr(s, splitSearchPath(s.str!).map((p) => replacePrefix(p, e.from, e.to) ?? p).join(":"));
          }
          for (const s of slots) {
            if (s.tag === BigInt(DT_NEEDED) && s.str!.includes("/")) setStr(s, replacePrefix(s.str!, e.from, e.to) ?? s.str!);
          }
          for (const v of verneed) {
            const name = v.rename ?? v.file;
            if (!v.removed && name.includes("/")) {
              const r = replacePrefix(name, e.from, e.to);
              if (r !== null && r !== name) v.rename = r;
            }
          }
          break;
        }
        case "add-needed": {
          if (slots.some((s) => s.tag === BigInt(DT_NEEDED) && s.str === e.name)) break;
          // After the last NEEDED: libraries already needed keep their place in the lookup order.
          let at = -1;
          slots.forEach((s, i) => {
            if (s.tag === BigInt(DT_NEEDED)) at = i;
          });
          if (e.first) at = addedFirst++ - 1;
          slots.splice(at + 1, 0, { tag: BigInt(DT_NEEDED), val: 0n, str: e.name });
          break;
        }
        case "remove-needed": {
          const found = slots.filter((s) => s.tag === BigInt(DT_NEEDED) && s.str === e.name);
          for (const s of found) slots.splice(slots.indexOf(s), 1);
          for (const v of verneed) {
            if (!v.removed && (v.rename ?? v.file) === e.name) {
              this.checkVersionsUnused(v);
              v.removed = true;
            }
          }
          break;
        }
        case "replace-needed":
          for (const s of slots) if (s.tag === BigInt(DT_NEEDED) && s.str === e.from) setStr(s, e.to);
          for (const v of verneed) if (!v.removed && (v.rename ?? v.file) === e.from) v.rename = e.to;
          break;
        case "set-soname": {
          const s = slots.find((x) => x.tag === BigInt(DT_SONAME));
          if (s) setStr(s, e.name);
          else {
            // Before the first entry that is neither NEEDED nor SONAME, where linkers put it.
            const at = slots.findIndex((x) => x.tag !== BigInt(DT_NEEDED));
            slots.splice(at < 0 ? slots.length : at, 0, { tag: BigInt(DT_SONAME), val: 0n, str: e.name });
          }
          break;
        }
        default:
          throw new PatchError(`unknown edit ${describeEdit(e satisfies never)}`);
      }
    }
    for (const v of verneed) if (v.rename === v.file) delete v.rename;

    // ---- what changed
    if (interp !== oldInterp) this.changes.push(`interpreter: ${oldInterp} -> ${interp}`);
    if (dyn) this.describeDynamicChanges(dyn.entries, slots, verneed);
    const dynChanged =
      dyn !== null &&
      (this.renames.size > 0 ||
        slots.length !== dyn.entries.length ||
        slots.some((s, i) => s.tag !== dyn.entries[i]!.d_tag || (STRING_TAGS.has(s.tag) ? s.strOff === undefined : s.val !== dyn.entries[i]!.d_val)) ||
        verneed.some((v) => v.removed || v.rename !== undefined));
    if (interp === oldInterp && !dynChanged && this.extraWrites.length === 0 && !this.phdrsModified) {
      return { changes: [], writes: [], oldSize, newSize: oldSize, inPlace: true, segment: null, shift: 0, extended: null, moved: [] };
    }

    // ---- layout
    const writes: PlannedWrite[] = [];
    const layout = new FileLayout(this, oldSize, this.minPageSize);
    for (const w of this.extraWrites) layout.content(w.offset, w.bytes, w.what);

    // Strings: reuse what the table has, then space freed by this patch, then append.
    let strings: StringPlan | null = null;
    if (dyn && dynChanged) strings = this.placeStrings(dyn, slots, verneed);

    // The dynamic table's new contents (addresses filled in after the layout).
    const liveVerneed = verneed.filter((v) => !v.removed);
    const dropVerneedTags = verneed.length > 0 && liveVerneed.length === 0;
    let finalSlots = slots;
    if (dropVerneedTags) finalSlots = slots.filter((s) => s.tag !== BigInt(DT_VERNEED) && s.tag !== BigInt(DT_VERNEEDNUM));
    const dynMoves = dyn !== null && dynChanged && finalSlots.length + 1 > dyn.capacity;
    const interpMoves = interp !== oldInterp && interpPh !== null && utf8.encode(interp!).length + 1 > Number(interpPh.p_filesz);
    const strtabMoves = strings !== null && strings.appended.length > 0;

    if (dynMoves || interpMoves || strtabMoves) {
      const request: SegmentRequest = {
        interp: interpMoves ? utf8.encode(interp! + "\0") : null,
        dynstr: strtabMoves ? strings! : null,
        dynamicSlots: dynMoves ? finalSlots.length + 1 + DYNAMIC_SPARE : 0,
        writable: dynMoves,
      };
      // In the slack after .dynstr's segment when it fits (the file does not grow); else, for
      // an executable whose tables are larger than a page, patchelf's layout (the file
      // shifts by whole pages and its first segment starts lower); else a new segment.
      // What a new segment would add, measured by laying it out (Infinity where it cannot be).
      const segmentGrowth = () => {
        try {
          return new FileLayout(this, oldSize, this.minPageSize).newSegment(request, false);
        } catch (e) {
          if (e instanceof PatchError) return Infinity;
          throw e;
        }
      };
      const choice = this.layoutChoice;
      const placed =
        (choice === "auto" && layout.growInSlack(request)) ||
        (choice !== "new-segment" && layout.growByShift(request, choice === "shift" ? () => Infinity : segmentGrowth));
      if (!placed) layout.newSegment(request);
    }

    // Content writes at their original offsets (redirected into moved blocks by the layout).
    if (interp !== oldInterp && !interpMoves && interpPh) {
      const bytes = new Uint8Array(Number(interpPh.p_filesz));
      bytes.set(utf8.encode(interp!));
      layout.content(Number(interpPh.p_offset), bytes, "interpreter (in place)");
    }
    if (strings && (!strtabMoves || layout.dynstrGrowsInPlace)) {
      for (const w of strings.inPlace) layout.content(strings.fileOffset + w.offset, w.bytes, `.dynstr string at ${hex(w.offset)}`);
    }
    if (dyn && dynChanged) this.verneedWrites(verneed, layout, strings!);
    if (this.renames.size > 0) {
      const renamed = new Map([...this.renames].map(([i, name]) => [i, { bytes: utf8.encode(name), offset: strings!.offsets.get(name)! }]));
      try {
        for (const w of renameSymbolWrites(elf, renamed)) layout.content(w.offset, w.bytes, w.what);
      } catch (e) {
        if (e instanceof RenameError) throw new PatchError(e.message);
        throw e;
      }
    }

    // Dynamic entries, with final addresses (also when only what they point at moved).
    if (dyn && (dynChanged || layout.rearranged)) {
      const entries: DynamicEntry[] = finalSlots.map((s) => {
        let val = s.val;
        if (STRING_TAGS.has(s.tag)) val = BigInt(s.strOff ?? strings!.offsets.get(s.str!)!);
        if (MOVABLE_POINTER_TAGS.has(s.tag) || RELOCATION_TAGS.has(s.tag)) val = layout.movedAddress(val);
        if (s.tag === BigInt(DT_STRTAB) && strtabMoves) val = layout.dynstrAddr!;
        if (s.tag === BigInt(DT_STRSZ) && strtabMoves) val = BigInt(strings!.newSize);
        if (s.tag === BigInt(DT_VERNEED) && liveVerneed.length > 0 && verneed[0]!.removed) {
          val = layout.movedAddress(this.offsetToAddress(liveVerneed[0]!.offset));
        }
        if (s.tag === BigInt(DT_VERNEEDNUM)) val = BigInt(liveVerneed.length);
        return { d_tag: s.tag, d_val: val };
      });
      if (dynMoves) {
        layout.setDynamic(encodeDynamicTable(entries, finalSlots.length + 1 + DYNAMIC_SPARE, this.is64, this.little));
      } else {
        layout.content(dyn.offset, encodeDynamicTable(entries, dyn.capacity, this.is64, this.little), ".dynamic (in place)");
      }
    }

    layout.finish(writes, {
      interpPh,
      interpMoves,
      interpSize: interp !== null ? utf8.encode(interp).length + 1 : 0,
      dynPh,
      dynMoves,
      verneedFirstRemoved: verneed.length > 0 && verneed[0]!.removed === true,
      verneedCount: liveVerneed.length,
      verneedNewStart: liveVerneed[0]?.offset,
    });
    const newSize = Math.max(oldSize + layout.shift, ...writes.map((w) => w.offset + w.bytes.length));
    return {
      changes: this.changes,
      writes,
      oldSize,
      newSize,
      inPlace: !layout.rearranged,
      segment: layout.segmentInfo(),
      shift: layout.shift,
      extended: layout.extendedInfo(),
      moved: layout.movedNames(),
    };
  }

  // ------------------------------------------------------------------ reading

  get file(): ElfFile {
    return this.elf;
  }
  get programHeaders(): ProgramHeader[] {
    return this.phdrs;
  }
  get sectionHeaders(): readonly SectionHeader[] | null {
    return this.sections;
  }
  get wide(): boolean {
    return this.is64;
  }
  get littleEndian(): boolean {
    return this.little;
  }

  private readDynamic(ph: ProgramHeader) {
    const d = this.elf.readAt(ph.p_offset, ph.p_filesz, "PT_DYNAMIC");
    const entries = decodeDynamicEntries(d, this.is64);
    return { offset: d.base, capacity: Math.floor(d.length / dynamicEntrySize(this.is64)), entries, vaddr: ph.p_vaddr };
  }

  private slot(e: DynamicEntry): DynSlot {
    if (!STRING_TAGS.has(e.d_tag)) return { tag: e.d_tag, val: e.d_val };
    const off = checkedNumber(e.d_val, "dynamic string offset");
    return { tag: e.d_tag, val: e.d_val, str: this.elf.dynamicStrings.get(off), strOff: off };
  }

  private readVerneed(): VerneedEntry[] {
    return this.elf.versionRequirements.map((r) => ({
      offset: r.offset,
      file: r.file,
      fileOff: r.vn_file,
      next: r.vn_next,
      versionIndexes: r.versions.map((v) => v.vna_other & VERSYM_VERSION),
      nameOffs: r.versions.map((v) => v.vna_name),
    }));
  }

  /** Refuses to drop a library's version requirement while a symbol still binds to one of its versions. */
  private checkVersionsUnused(v: VerneedEntry): void {
    const versym = this.elf.versymValues();
    if (!versym) return;
    const wanted = new Set(v.versionIndexes);
    const users: string[] = [];
    for (let i = 1; i < versym.length; i++) {
      if (wanted.has(versym[i]! & VERSYM_VERSION)) {
        users.push(this.elf.dynamicSymbol(i).name);
        if (users.length > 3) break;
      }
    }
    if (users.length > 0) {
      throw new PatchError(
        `cannot remove ${v.file}: symbols still need its versions (${users.slice(0, 3).join(", ")}${users.length > 3 ? ", …" : ""})`,
      );
    }
  }

  /** versym 1 (global, unversioned) for every dynamic symbol named `name`, as patchelf does. */
  private clearSymbolVersion(name: string): void {
    const versym = this.elf.versymValues();
    const addr = this.elf.dynamicValue(DT_VERSYM);
    if (!versym || addr === undefined) throw new PatchError("has no symbol versions (DT_VERSYM) to clear");
    const names = this.elf.symbolNameOffsets();
    const base = this.elf.addressToOffset(addr, versym.length * 2, "DT_VERSYM");
    const table = this.elf.dynamicStrings;
    for (let i = 1; i < versym.length && i < names.length; i++) {
      if (versym[i] === 1 || table.get(names[i]!) !== name) continue;
      const b = new Uint8Array(2);
      new Encoder(b, this.little).u16(0, 1);
      this.extraWrites.push({ offset: base + i * 2, bytes: b, what: `versym of ${name}` });
      this.changes.push(`version of ${name}: cleared`);
    }
  }

  offsetToAddress(offset: number): bigint {
    for (const p of this.phdrs) {
      if (p.p_type === PT_LOAD && BigInt(offset) >= p.p_offset && BigInt(offset) < p.p_offset + p.p_filesz) {
        return p.p_vaddr + (BigInt(offset) - p.p_offset);
      }
    }
    throw new PatchError(`file offset ${hex(offset)} is not in a loaded segment`);
  }

  private describeDynamicChanges(before: readonly DynamicEntry[], after: DynSlot[], verneed: VerneedEntry[]): void {
    const tagName = (t: bigint) =>
      ({ [DT_NEEDED]: "needed", [DT_SONAME]: "soname", [DT_RPATH]: "rpath", [DT_RUNPATH]: "runpath" })[Number(t)] ?? `tag ${hex(t)}`;
    const strOf = (e: DynamicEntry) => this.elf.dynamicStrings.get(Number(e.d_val));
    const list = (entries: { tag: bigint; str: string }[], tag: number) => entries.filter((e) => e.tag === BigInt(tag)).map((e) => e.str);
    const b = before.filter((e) => STRING_TAGS.has(e.d_tag)).map((e) => ({ tag: e.d_tag, str: strOf(e) }));
    const a = after.filter((s) => STRING_TAGS.has(s.tag)).map((s) => ({ tag: s.tag, str: s.str! }));
    for (const tag of [DT_SONAME, DT_RPATH, DT_RUNPATH]) {
      const x = list(b, tag).join(" ");
      const y = list(a, tag).join(" ");
      if (x !== y) this.changes.push(`${tagName(BigInt(tag))}: ${x || "(none)"} -> ${y || "(none)"}`);
    }
    for (const [tag, name] of [[DT_FLAGS_1, "DT_FLAGS_1"], [DT_DEBUG, "DT_DEBUG"]] as const) {
      const x = before.find((e) => e.d_tag === BigInt(tag));
      const y = after.find((e) => e.tag === BigInt(tag));
      if (x?.d_val !== y?.val || (x === undefined) !== (y === undefined)) {
        this.changes.push(`${name}: ${x ? hex(x.d_val) : "(none)"} -> ${y ? hex(y.val) : "(none)"}`);
      }
    }
    const nb = list(b, DT_NEEDED);
    const na = list(a, DT_NEEDED);
    if (nb.join("\0") !== na.join("\0")) this.changes.push(`needed: ${nb.join(" ") || "(none)"} -> ${na.join(" ") || "(none)"}`);
    const nameOffs = this.renames.size > 0 ? this.elf.symbolNameOffsets() : null;
    for (const [i, n] of this.renames) this.changes.push(`symbol ${this.elf.dynamicStrings.get(nameOffs![i]!)} -> ${n}`);
    for (const v of verneed) {
      if (v.removed) this.changes.push(`version requirements: removed ${v.file}`);
      else if (v.rename !== undefined) this.changes.push(`version requirements: ${v.file} -> ${v.rename}`);
    }
  }

  // ------------------------------------------------------------------ strings

  private placeStrings(dyn: { entries: DynamicEntry[] }, slots: DynSlot[], verneed: VerneedEntry[]): StringPlan {
    const elf = this.elf;
    const table = elf.dynamicStrings;
    const bytes = elf.source.read(table.fileOffset, table.size);
    const image = Uint8Array.from(bytes);

    // Every reference into the table that stays.
    const kept: number[] = [];
    for (const s of slots) if (s.strOff !== undefined) kept.push(s.strOff);
    const names = elf.symbolNameOffsets();
    for (let i = 0; i < names.length; i++) if (!this.renames.has(i)) kept.push(names[i]!);
    for (const d of elf.versionDefinitions) kept.push(...d.nameOffsets);
    for (const v of verneed) {
      if (v.removed) continue;
      kept.push(...v.nameOffs);
      if (v.rename === undefined) kept.push(v.fileOff);
    }
    const sortedKept = Uint32Array.from(kept).sort();
    const referenced = (from: number, to: number) => {
      // Any kept reference in [from, to]?
      let lo = 0;
      let hi = sortedKept.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (sortedKept[mid]! < from) lo = mid + 1;
        else hi = mid;
      }
      return lo < sortedKept.length && sortedKept[lo]! <= to;
    };

    // Space freed by this patch: whole strings (from the previous NUL) nothing else points into.
    // Reused only when every tag in the dynamic table is known, so no reference is missed.
    const allKnown = dyn.entries.every((e) => e.d_tag < 0x6000000dn || e.d_tag >= 0x6ffff000n);
    const free: { start: number; end: number }[] = [];
    if (allKnown) {
      const dropped = new Set<number>();
      for (const e of dyn.entries) if (STRING_TAGS.has(e.d_tag)) dropped.add(Number(e.d_val));
      for (const v of verneed) if (v.removed || v.rename !== undefined) dropped.add(v.fileOff);
      for (const i of this.renames.keys()) dropped.add(names[i]!);
      for (const s of slots) if (s.strOff !== undefined) dropped.delete(s.strOff);
      for (const off of dropped) {
        if (off <= 0 || off >= bytes.length) continue;
        const end = bytes.indexOf(0, off);
        if (end < 0) continue;
        const start = bytes.lastIndexOf(0, off - 1) + 1;
        if (start === 0 || referenced(start, end)) continue;
        if (!free.some((f) => f.start === start)) free.push({ start, end: end + 1 });
      }
      free.sort((x, y) => x.start - y.start);
      // Neighbouring freed strings make one larger hole.
      for (let i = free.length - 1; i > 0; i--) {
        if (free[i - 1]!.end === free[i]!.start) {
          free[i - 1]!.end = free[i]!.end;
          free.splice(i, 1);
        }
      }
    }
    const inFree = (from: number, to: number) => free.some((f) => from < f.end && to > f.start);

    // The strings to place, longest first (best use of holes).
    const wanted = new Set<string>();
    for (const s of slots) if (s.str !== undefined && s.strOff === undefined) wanted.add(s.str);
    for (const v of verneed) if (!v.removed && v.rename !== undefined) wanted.add(v.rename);
    for (const n of this.renames.values()) wanted.add(n);
    const offsets = new Map<string, number>();
    const appended: Uint8Array[] = [];
    let appendAt = bytes.length;
    const inPlace: { offset: number; bytes: Uint8Array }[] = [];
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const str of [...wanted].sort((x, y) => y.length - x.length)) {
      const enc = utf8.encode(str + "\0");
      if (enc.indexOf(0) !== enc.length - 1) throw new PatchError(`a name cannot contain a NUL byte: ${JSON.stringify(str)}`);
      // 1. Already in the table (a whole string or the tail of one), outside the freed space.
      let found = -1;
      for (let at = buf.indexOf(enc); at >= 0 && found < 0; at = buf.indexOf(enc, at + 1)) {
        if (!inFree(at, at + enc.length)) found = at;
      }
      // 2. A freed hole.
      if (found < 0) {
        const hole = free.find((f) => f.end - f.start >= enc.length);
        if (hole) {
          found = hole.start;
          hole.start += enc.length;
          image.set(enc, found);
          inPlace.push({ offset: found, bytes: enc });
        }
      }
      // 3. Appended to a moved table.
      if (found < 0) {
        found = appendAt;
        appended.push(enc);
        appendAt += enc.length;
      }
      offsets.set(str, found);
    }
    // Leftover holes are cleared, so no stale path stays readable in the file.
    for (const f of free) {
      if (f.end > f.start) {
        const zeros = new Uint8Array(f.end - f.start);
        image.set(zeros, f.start);
        inPlace.push({ offset: f.start, bytes: zeros });
      }
    }
    const newSize = appendAt;
    return {
      fileOffset: table.fileOffset,
      oldSize: bytes.length,
      newSize,
      offsets,
      inPlace,
      appended,
      image: () => {
        const out = new Uint8Array(newSize);
        out.set(image);
        out.set(concat(appended), bytes.length);
        return out;
      },
    };
  }

  private verneedWrites(verneed: VerneedEntry[], layout: FileLayout, strings: StringPlan): void {
    const live = verneed.filter((v) => !v.removed);
    for (const v of live) {
      if (v.rename !== undefined) {
        const b = new Uint8Array(4);
        new Encoder(b, this.little).u32(0, strings.offsets.get(v.rename)!);
        layout.content(v.offset + 4, b, `.gnu.version_r file name of ${v.file}`);
      }
    }
    if (live.length === verneed.length) return;
    // Unlink removed entries: each live entry's vn_next points at the next live one.
    live.forEach((v, i) => {
      const next = live[i + 1];
      const rel = next ? next.offset - v.offset : 0;
      if (rel !== v.next) {
        const b = new Uint8Array(4);
        new Encoder(b, this.little).u32(0, rel >>> 0);
        layout.content(v.offset + 12, b, `.gnu.version_r link after ${v.file}`);
      }
    });
  }
}

interface StringPlan {
  fileOffset: number;
  oldSize: number;
  newSize: number;
  offsets: Map<string, number>;
  inPlace: { offset: number; bytes: Uint8Array }[];
  appended: Uint8Array[];
  image: () => Uint8Array;
}

interface SegmentRequest {
  interp: Uint8Array | null;
  dynstr: StringPlan | null;
  dynamicSlots: number;
  writable: boolean;
}

interface FinishInfo {
  interpPh: ProgramHeader | null;
  interpMoves: boolean;
  interpSize: number;
  dynPh: ProgramHeader | null;
  dynMoves: boolean;
  verneedFirstRemoved: boolean;
  verneedCount: number;
  verneedNewStart: number | undefined;
}

/**
 * Where everything goes: writes at original offsets, and the new segment (its place,
 * the blocks moved to make room for its program header, and the moved tables).
 */
class FileLayout {
  private readonly contents: PlannedWrite[] = [];
  private blocks: Block[] = [];
  private seg: { offset: number; vaddr: bigint; size: number; align: bigint; flags: number } | null = null;
  private request: SegmentRequest | null = null;
  dynstrAddr: bigint | null = null;
  private dynstrOffset = 0;
  private interpAt: { offset: number; vaddr: bigint } | null = null;
  private dynamicAt: { offset: number; vaddr: bigint; size: number } | null = null;
  private dynamicBytes: Uint8Array | null = null;
  private nullReused = -1;
  /** Slack mode: the PT_LOAD that holds .dynstr, extended by `by` bytes into the slack after it. */
  private extended: { index: number; by: number } | null = null;
  /** Slack mode: bytes between the grown .dynstr and the slid sections, cleared. */
  private slackPad: { offset: number; size: number } | null = null;
  /** Shift mode: bytes inserted at the start of the file. */
  shift = 0;
  /** Shift mode: the first PT_LOAD's program header index, and the end (new offsets) of the rewritten start of the file. */
  private shifted: { index: number; regionEnd: number; headerEnd: number } | null = null;

  constructor(
    private readonly p: Planner,
    private readonly oldSize: number,
    private readonly minPage: bigint,
  ) {}

  get hasSegment(): boolean {
    return this.seg !== null;
  }

  /** True when the layout changed (a new segment, or a segment grown into its slack). */
  get rearranged(): boolean {
    return this.seg !== null || this.extended !== null || this.shifted !== null;
  }

  /** Slack mode: .dynstr grows where it is; only its changed strings and appended tail are written. */
  get dynstrGrowsInPlace(): boolean {
    return this.extended !== null && this.request?.dynstr != null;
  }

  content(offset: number, bytes: Uint8Array, what: string): void {
    this.contents.push({ offset, bytes, what });
  }

  setDynamic(bytes: Uint8Array): void {
    this.dynamicBytes = bytes;
  }

  /** The offset in the new file of an old offset outside the moved blocks. */
  private mapOffset(offset: number): number {
    return this.movedOffset(offset) ?? offset + this.shift;
  }

  /** The address after moving, for an address inside a moved block; otherwise unchanged. */
  movedAddress(addr: bigint): bigint {
    for (const b of this.blocks) {
      if (addr >= b.addr && addr < b.addr + BigInt(b.end - b.start)) return b.newAddr! + (addr - b.addr);
    }
    return addr;
  }

  private movedOffset(offset: number): number | null {
    for (const b of this.blocks) if (offset >= b.start && offset < b.end) return b.newOffset! + (offset - b.start);
    return null;
  }

  movedNames(): string[] {
    const secs = this.p.sectionHeaders ?? [];
    return this.blocks.flatMap((b) => b.sections.map((i) => secs[i]!.name || `section ${i}`));
  }

  segmentInfo(): PatchPlan["segment"] {
    if (!this.seg) return null;
    const f = this.seg.flags;
    return { offset: this.seg.offset, vaddr: this.seg.vaddr, size: this.seg.size, flags: `${f & PF_R ? "R" : ""}${f & PF_W ? "W" : ""}` };
  }

  /**
   * Grows .dynstr where it is, without a new segment: the sections after it in its PT_LOAD
   * (version and relocation tables, which only the dynamic table points at) slide up into
   * the unused space between that segment's end and the next thing in the file and in
   * memory, and a moved interpreter string goes after them. Returns false, changing
   * nothing, when the slack is too small or something could point into what would slide.
   */
  growInSlack(req: SegmentRequest): boolean {
    const elf = this.p.file;
    const secs = this.p.sectionHeaders;
    const phdrs = this.p.programHeaders;
    const dyn = elf.dynamic?.entries ?? [];
    if (!secs || req.dynamicSlots > 0 || (!req.dynstr && !req.interp)) return false;
    if (hasTextRelocations(dyn)) return false;
    // A static PIE relocates itself with symbols that mark its relocation tables.
    const flags1 = dyn.find((e) => e.d_tag === BigInt(DT_FLAGS_1))?.d_val ?? 0n;
    if ((flags1 & BigInt(DF_1_PIE)) !== 0n && !phdrs.some((ph) => ph.p_type === PT_INTERP)) return false;

    // The segment to extend: the one holding .dynstr, or (only the interpreter moves) the first.
    const strtabAddr = elf.dynamicValue(DT_STRTAB);
    const dynstrIndex = req.dynstr ? this.dynstrSection(req.dynstr) : -1;
    if (req.dynstr && dynstrIndex < 0) return false;
    const anchor = dynstrIndex >= 0 ? Number(secs[dynstrIndex]!.sh_offset) : Number(elf.header.e_phoff);
    const index = phdrs.findIndex(
      (ph) => ph.p_type === PT_LOAD && BigInt(anchor) >= ph.p_offset && BigInt(anchor) < ph.p_offset + ph.p_filesz,
    );
    if (index < 0) return false;
    const seg = phdrs[index]!;
    if (seg.p_filesz !== seg.p_memsz) return false;
    const segStart = Number(seg.p_offset);
    const fileEnd = segStart + Number(seg.p_filesz);
    const vEnd = seg.p_vaddr + seg.p_memsz;

    // What slides: everything from the end of .dynstr to the end of the segment.
    let slideStart = fileEnd;
    if (req.dynstr) slideStart = Number(secs[dynstrIndex]!.sh_offset + secs[dynstrIndex]!.sh_size);
    const sliding = this.sectionsWithin(slideStart, fileEnd, (s) => MOVABLE_SECTION_TYPES.has(s.sh_type) || RELOCATION_SECTION_TYPES.has(s.sh_type));
    if (!sliding) return false;
    const slideAlign = Math.max(1, ...sliding.map((i) => Number(secs[i]!.sh_addralign) || 1));
    const slideAddr = seg.p_vaddr + BigInt(slideStart - segStart);
    const slideEndAddr = vEnd;
    // Nothing but the updated tags, and notes inside it, may point into what slides.
    if (foreignTagPointsInto(dyn, slideAddr, slideEndAddr, (t) => MOVABLE_POINTER_TAGS.has(t) || RELOCATION_TAGS.has(t))) return false;
    for (const { ph, a, b } of this.headersOverlapping(slideStart, fileEnd, index)) {
      if (a < slideStart || b > fileEnd || (ph.p_type !== PT_NOTE && ph.p_type !== PT_GNU_PROPERTY)) return false;
    }
    const phoff = Number(elf.header.e_phoff);
    if (phoff < fileEnd && phoff + elf.phnum * elf.header.e_phentsize > slideStart) return false;

    // The slack: up to the next byte used in the file, and up to the next segment's first
    // page in memory (pages of the file's largest alignment, at least the minimum page).
    const page = phdrs.reduce((a, ph) => (ph.p_type === PT_LOAD && ph.p_align > a ? ph.p_align : a), this.minPage);
    let fileRoom = this.oldSize - fileEnd;
    const claim = (a: number, b: number) => {
      if (b <= fileEnd || b <= a) return true;
      if (a < fileEnd) return a >= segStart && b <= fileEnd;
      fileRoom = Math.min(fileRoom, a - fileEnd);
      return true;
    };
    for (let i = 0; i < phdrs.length; i++) {
      const ph = phdrs[i]!;
      if (i !== index && ph.p_type === PT_LOAD && !claim(Number(ph.p_offset), Number(ph.p_offset + ph.p_filesz))) return false;
    }
    for (const s of secs) {
      if (s.sh_type !== SHT_NOBITS && !claim(Number(s.sh_offset), Number(s.sh_offset + s.sh_size))) return false;
    }
    const shoff = Number(elf.header.e_shoff);
    if (!claim(shoff, shoff + secs.length * elf.header.e_shentsize)) return false;
    if (!claim(phoff, phoff + elf.phnum * elf.header.e_phentsize)) return false;
    let memRoom = -1n;
    for (let i = 0; i < phdrs.length; i++) {
      const ph = phdrs[i]!;
      if (i === index || ph.p_type !== PT_LOAD || ph.p_memsz === 0n) continue;
      if (ph.p_vaddr < vEnd && ph.p_vaddr + ph.p_memsz > seg.p_vaddr) return false;
      if (ph.p_vaddr >= vEnd) {
        const room = (ph.p_vaddr / page) * page - vEnd;
        if (memRoom < 0n || room < memRoom) memRoom = room;
      }
    }
    const room = memRoom < 0n ? fileRoom : Math.min(fileRoom, Number(memRoom));

    // How far the sliding sections move: past the grown .dynstr, keeping their alignment.
    let delta = 0;
    let newEnd = fileEnd;
    if (req.dynstr) {
      const grownEnd = req.dynstr.fileOffset + req.dynstr.newSize;
      delta = sliding.length > 0 ? alignUp(Math.max(0, grownEnd - slideStart), slideAlign) : 0;
      newEnd = sliding.length > 0 ? fileEnd + delta : Math.max(fileEnd, grownEnd);
      if (sliding.length === 0) delta = 0;
      const padFrom = grownEnd;
      const padTo = sliding.length > 0 ? slideStart + delta : grownEnd;
      if (padTo > padFrom) this.slackPad = { offset: padFrom, size: padTo - padFrom };
    }
    const interpSize = req.interp ? req.interp.length : 0;
    const by = newEnd + interpSize - fileEnd;
    if (by > room || by <= 0) {
      this.slackPad = null;
      return false;
    }

    // Commit.
    this.request = req;
    if (sliding.length > 0 && delta > 0) {
      this.blocks = [{ start: slideStart, end: fileEnd, addr: slideAddr, align: slideAlign, sections: sliding, newOffset: slideStart + delta, newAddr: slideAddr + BigInt(delta) }];
    }
    if (req.dynstr) {
      this.dynstrOffset = req.dynstr.fileOffset;
      this.dynstrAddr = strtabAddr!;
    }
    if (req.interp) this.interpAt = { offset: newEnd, vaddr: seg.p_vaddr + BigInt(newEnd - segStart) };
    this.extended = { index, by };
    this.fixSymbolValues();
    return true;
  }

  /**
   * patchelf's layout for executables, when cheaper than a new segment: the file's contents
   * move `shift` bytes (whole pages) later and the first PT_LOAD, still at offset 0, starts
   * `shift` bytes lower in memory; the sections between the program header table and the end
   * of .dynstr (interpreter, notes, hash tables, .dynsym, version tables, .dynstr) are laid out
   * again, downwards from where .dynstr ended, with the grown .dynstr (and interpreter) in
   * their place. Code and data keep their addresses. Returns false, changing nothing, when
   * the file is not laid out for it or a new segment would grow it less.
   */
  growByShift(req: SegmentRequest, segmentGrowth: () => number): boolean {
    const elf = this.p.file;
    const secs = this.p.sectionHeaders;
    const phdrs = this.p.programHeaders;
    const dyn = elf.dynamic?.entries ?? [];
    if (!secs || !req.dynstr || req.dynamicSlots > 0 || elf.header.e_type !== ET_EXEC) return false;
    if (hasTextRelocations(dyn)) return false;
    const loads = phdrs.map((ph, i) => ({ ph, i })).filter((x) => x.ph.p_type === PT_LOAD);
    if (loads.length === 0) return false;
    const { ph: first, i: index } = loads.reduce((a, b) => (b.ph.p_vaddr < a.ph.p_vaddr ? b : a));
    if (first.p_offset !== 0n || phdrs.indexOf(first) !== loads[0]!.i) return false;
    const base = first.p_vaddr;
    const headerEnd = Number(elf.header.e_phoff) + elf.phnum * elf.header.e_phentsize;
    if (Number(elf.header.e_phoff) < elf.header.e_ehsize || BigInt(headerEnd) > first.p_filesz) return false;

    const dynstrIndex = this.dynstrSection(req.dynstr);
    if (dynstrIndex < 0) return false;
    const regionEnd = Number(secs[dynstrIndex]!.sh_offset + secs[dynstrIndex]!.sh_size);
    if (BigInt(regionEnd) > first.p_filesz) return false;
    const interpPh = phdrs.find((ph) => ph.p_type === PT_INTERP);
    const isInterp = (s: SectionHeader) => interpPh !== undefined && s.sh_type === SHT_PROGBITS && s.sh_offset === interpPh.p_offset;

    // The sections to lay out again: all of [headerEnd, regionEnd), each of a movable kind.
    const inRegion = this.sectionsWithin(headerEnd, regionEnd, (s, i) => i === dynstrIndex || MOVABLE_SECTION_TYPES.has(s.sh_type) || isInterp(s));
    if (!inRegion) return false;
    if (req.interp && !inRegion.some((i) => isInterp(secs[i]!))) return false;
    const regionAddr = base + BigInt(headerEnd);
    const regionEndAddr = base + BigInt(regionEnd);
    if (foreignTagPointsInto(dyn, regionAddr, regionEndAddr, (t) => MOVABLE_POINTER_TAGS.has(t))) return false;
    // Program headers in the region: only the interpreter's and notes, each inside it and one group below.
    const groupsOf: { start: number; end: number; align: number; sections: number[] }[] = [];
    const sorted = inRegion.sort((x, y) => Number(secs[x]!.sh_offset - secs[y]!.sh_offset));
    for (const i of sorted) {
      const s = secs[i]!;
      groupsOf.push({ start: Number(s.sh_offset), end: Number(s.sh_offset + s.sh_size), align: Math.max(1, Number(s.sh_addralign)), sections: [i] });
    }
    for (const { ph, a, b } of this.headersOverlapping(headerEnd, regionEnd, index)) {
      if (ph.p_type === PT_LOAD || a < headerEnd || b > regionEnd) return false;
      if (ph.p_type !== PT_NOTE && ph.p_type !== PT_GNU_PROPERTY && ph.p_type !== PT_INTERP) return false;
      // The groups it covers become one, keeping their relative layout.
      const covered = groupsOf.filter((g) => g.start < b && g.end > a);
      if (covered.length === 0 || covered[0]!.start > a || covered.at(-1)!.end < b) return false;
      if (ph.p_type === PT_INTERP && covered.length !== 1) return false;
      if (covered.length > 1) {
        const merged = {
          start: covered[0]!.start,
          end: Math.max(...covered.map((g) => g.end)),
          align: Math.max(...covered.map((g) => g.align)),
          sections: covered.flatMap((g) => g.sections),
        };
        if (merged.sections.includes(dynstrIndex)) return false;
        groupsOf.splice(groupsOf.indexOf(covered[0]!), covered.length, merged);
      }
    }

    // Downwards from the old end of .dynstr (old offsets; below headerEnd is the new space).
    let cursor = regionEnd;
    const placed = new Map<(typeof groupsOf)[number], number>();
    for (const g of [...groupsOf].reverse()) {
      const isDynstr = g.sections.includes(dynstrIndex);
      const interpGroup = req.interp !== null && g.sections.some((i) => isInterp(secs[i]!));
      if (interpGroup && g.sections.length > 1) return false;
      const size = isDynstr ? req.dynstr.newSize : interpGroup ? req.interp!.length : g.end - g.start;
      let at = cursor - size;
      // Same remainder modulo the alignment as before, so contents keep their alignment.
      at -= (((at - g.start) % g.align) + g.align) % g.align;
      placed.set(g, at);
      cursor = at;
    }
    const page = phdrs.reduce((a, ph) => (ph.p_type === PT_LOAD && ph.p_align > a ? ph.p_align : a), this.minPage);
    const need = headerEnd - cursor;
    const shift = need > 0 ? Number(alignUpBig(BigInt(need), page)) : 0;
    // Cheaper than a new segment only; and the first segment must stay above the lowest mappable address.
    if (shift > MAX_SHIFT || base - BigInt(shift) < MIN_MAP_ADDRESS || shift > segmentGrowth()) return false;

    // Commit.
    this.request = req;
    this.shift = shift;
    this.shifted = { index, regionEnd: regionEnd + shift, headerEnd };
    this.blocks = [];
    for (const [g, at] of placed) {
      const isDynstr = g.sections.includes(dynstrIndex);
      const interpGroup = req.interp !== null && g.sections.some((i) => isInterp(secs[i]!));
      if (isDynstr) {
        this.dynstrOffset = at + shift;
        this.dynstrAddr = base + BigInt(at);
      } else if (interpGroup) {
        this.interpAt = { offset: at + shift, vaddr: base + BigInt(at) };
      } else {
        this.blocks.push({ start: g.start, end: g.end, addr: base + BigInt(g.start), align: g.align, sections: g.sections, newOffset: at + shift, newAddr: base + BigInt(at) });
      }
    }
    this.blocks.sort((x, y) => x.start - y.start);
    this.fixSymbolValues();
    return true;
  }

  /**
   * Shift mode: the start of the new file, [0, end of the laid-out region), becomes one write
   * holding the ELF header (e_shoff moved), the program header table, the laid-out sections
   * and zeros between them, so no byte of the old header or tables stays behind.
   */
  private consolidateStart(writes: PlannedWrite[], sectionHeadersWritten: boolean): void {
    const elf = this.p.file;
    const is64 = this.p.wide;
    const end = this.shifted!.regionEnd;
    const start = new Uint8Array(end);
    start.set(elf.source.read(0, elf.header.e_ehsize), 0);
    const shoff = new Uint8Array(is64 ? 8 : 4);
    const e_shoff = elf.header.e_shoff;
    if (e_shoff !== 0n) {
      new Encoder(shoff, this.p.littleEndian).word(0, e_shoff + BigInt(this.shift), is64);
      start.set(shoff, is64 ? 0x28 : 0x20);
    }
    if (!sectionHeadersWritten && e_shoff !== 0n) throw new PatchError("section headers too small to rewrite");
    for (let i = writes.length - 1; i >= 0; i--) {
      const w = writes[i]!;
      if (w.offset >= end) continue;
      if (w.offset + w.bytes.length > end) throw new PatchError(`its ${w.what} overlaps the tables at the start of the file: refusing to rewrite it`);
      start.set(w.bytes, w.offset);
      writes.splice(i, 1);
    }
    writes.push({ offset: 0, bytes: start, what: "start of the file (headers and laid-out tables)" });
  }

  /** The program headers other than `skip` whose file contents overlap [from, to), with their file ranges. */
  private headersOverlapping(from: number, to: number, skip: number): { ph: ProgramHeader; a: number; b: number }[] {
    const out: { ph: ProgramHeader; a: number; b: number }[] = [];
    this.p.programHeaders.forEach((ph, k) => {
      const a = Number(ph.p_offset);
      const b = a + Number(ph.p_filesz);
      if (k !== skip && ph.p_filesz > 0n && b > from && a < to) out.push({ ph, a, b });
    });
    return out;
  }

  /** The section header of .dynstr (the string table DT_STRTAB points at, where the plan read it), or -1. */
  private dynstrSection(dynstr: StringPlan): number {
    const secs = this.p.sectionHeaders!;
    const addr = this.p.file.dynamicValue(DT_STRTAB);
    const i = secs.findIndex((s) => isLoaded(s) && s.sh_type === SHT_STRTAB && s.sh_addr === addr);
    return i >= 0 && Number(secs[i]!.sh_offset) === dynstr.fileOffset ? i : -1;
  }

  /**
   * The sections with file contents in [from, to), by index, when each lies wholly inside,
   * is loaded and passes `allowed`; null when one straddles a bound or does not.
   */
  private sectionsWithin(from: number, to: number, allowed: (s: SectionHeader, index: number) => boolean): number[] | null {
    const secs = this.p.sectionHeaders!;
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

  extendedInfo(): PatchPlan["extended"] {
    return this.extended ? { index: this.extended.index, bytes: this.extended.by } : null;
  }

  /** Lays out the new segment; returns how many bytes it adds to the file. `commit` false only measures. */
  newSegment(req: SegmentRequest, commit = true): number {
    this.request = req;
    const elf = this.p.file;
    const is64 = this.p.wide;
    const phdrs = this.p.programHeaders;
    const secs = this.p.sectionHeaders;
    const phent = elf.header.e_phentsize;
    if (elf.header.e_phnum === 0xffff) throw new PatchError("the program header count is extended (PN_XNUM): not supported");
    const loads = phdrs.filter((ph) => ph.p_type === PT_LOAD);
    if (loads.length === 0) throw new PatchError("has no PT_LOAD segment to add to");

    // A program header slot for the new PT_LOAD: a PT_NULL entry, or one more entry after
    // the table, made free by moving what follows it.
    this.nullReused = phdrs.findIndex((ph) => ph.p_type === PT_NULL);
    if (this.nullReused < 0) {
      if (!secs) throw new PatchError("must grow, and has no section headers to tell what can move to make room for a program header");
      const start = Number(elf.header.e_phoff) + elf.phnum * phent;
      const end = start + phent;
      const first = loads[0]!;
      if (BigInt(end) > first.p_offset + first.p_filesz || BigInt(start) < first.p_offset) {
        throw new PatchError("the program header table is not at the start of the first PT_LOAD: cannot grow it");
      }
      this.blocks = this.blocksToMove(start, end, req.interp !== null);
    }

    // The new segment: after the end of the file, and above every segment in memory.
    const align = loads.reduce((a, ph) => (ph.p_align > a ? ph.p_align : a), this.minPage);
    const maxEnd = loads.reduce((a, ph) => (ph.p_vaddr + ph.p_memsz > a ? ph.p_vaddr + ph.p_memsz : a), 0n);
    const wordAlign = is64 ? 8 : 4;
    const contentAlign = Math.max(wordAlign, ...this.blocks.map((b) => b.align));
    const offset = alignUp(this.oldSize, contentAlign);
    // A gap as large as the largest symbol: eu-elflint takes a relocation to modify
    // r_offset + st_size bytes, and would see the symbols just below reach into a read-only
    // segment placed right after. Address space only; the file does not grow for it.
    const gap = elf.maxDynamicSymbolSize();
    const vaddr = alignUpBig(maxEnd + (gap < MAX_GAP ? gap : MAX_GAP), align) + (BigInt(offset) % align);
    let cursor = offset;
    const place = (size: number, a: number, rem = 0) => {
      cursor = alignUp(cursor - rem, a) + rem;
      const at = cursor;
      cursor += size;
      return { offset: at, vaddr: vaddr + BigInt(at - offset) };
    };
    for (const b of this.blocks) {
      const at = place(b.end - b.start, b.align, b.start % b.align);
      b.newOffset = at.offset;
      b.newAddr = at.vaddr;
    }
    if (req.interp) this.interpAt = place(req.interp.length, 1);
    if (req.dynstr) {
      const at = place(req.dynstr.newSize, 1);
      this.dynstrOffset = at.offset;
      this.dynstrAddr = at.vaddr;
    }
    if (req.dynamicSlots > 0) {
      const size = req.dynamicSlots * dynamicEntrySize(is64);
      this.dynamicAt = { ...place(size, wordAlign), size };
    }
    this.seg = { offset, vaddr, size: cursor - offset, align, flags: PF_R | (req.writable ? PF_W : 0) };
    if (!commit) return cursor - this.oldSize;
    this.fixSymbolValues();
    return cursor - this.oldSize;
  }

  /**
   * Symbols defined in a moved section (section symbols, `__abi_tag` on the ABI note) move
   * with it: their st_value in .symtab and .dynsym follows, so eu-elflint and debuggers
   * agree. Read in chunks: a large .symtab is never held whole.
   */
  private fixSymbolValues(): void {
    const secs = this.p.sectionHeaders;
    if (!secs) return;
    // Old and new address of every section that moves.
    const moves = new Map<number, { from: bigint; to: bigint }>();
    for (const b of this.blocks) for (const i of b.sections) moves.set(i, { from: secs[i]!.sh_addr, to: this.movedAddress(secs[i]!.sh_addr) });
    const dynstrAddr = this.p.file.dynamicValue(DT_STRTAB);
    const interpPh = this.p.programHeaders.find((ph) => ph.p_type === PT_INTERP);
    secs.forEach((sec, i) => {
      if ((sec.sh_flags & BigInt(SHF_ALLOC)) === 0n) return;
      if (this.dynstrAddr !== null && sec.sh_type === SHT_STRTAB && sec.sh_addr === dynstrAddr) moves.set(i, { from: sec.sh_addr, to: this.dynstrAddr });
      if (this.dynamicAt && sec.sh_type === SHT_DYNAMIC) moves.set(i, { from: sec.sh_addr, to: this.dynamicAt.vaddr });
      if (this.interpAt && interpPh && sec.sh_type === SHT_PROGBITS && sec.sh_offset === interpPh.p_offset) moves.set(i, { from: sec.sh_addr, to: this.interpAt.vaddr });
    });
    for (const [i, m] of moves) if (m.from === m.to) moves.delete(i);
    if (moves.size === 0) return;
    const is64 = this.p.wide;
    const entsize = is64 ? 24 : 16;
    const valueAt = is64 ? 8 : 4;
    const shndxAt = is64 ? 6 : 14;
    const CHUNK = 4096 * entsize;
    for (const sec of secs) {
      if (sec.sh_type !== SHT_SYMTAB && sec.sh_type !== SHT_DYNSYM) continue;
      if (sec.sh_entsize !== BigInt(entsize)) continue;
      const start = Number(sec.sh_offset);
      const size = Number(sec.sh_size) - (Number(sec.sh_size) % entsize);
      if (start + size > this.oldSize) continue;
      for (let at = 0; at < size; at += CHUNK) {
        const len = Math.min(CHUNK, size - at);
        const d = this.p.file.readAt(start + at, len, "symbol table");
        for (let o = 0; o < len; o += entsize) {
          const move = moves.get(d.u16(o + shndxAt));
          if (!move) continue;
          const value = d.word(o + valueAt, is64);
          const b = new Uint8Array(is64 ? 8 : 4);
          new Encoder(b, this.p.littleEndian).word(0, value - move.from + move.to, is64);
          this.content(start + at + o + valueAt, b, `${sec.name || "symbol table"} value`);
        }
      }
    }
  }

  /**
   * The sections in [start, end) and what must move with them: every section of a note
   * segment they belong to. Each must be a kind only the program headers and the dynamic
   * table point at.
   */
  private blocksToMove(start: number, end: number, interpMovesAnyway: boolean): Block[] {
    const secs = this.p.sectionHeaders!;
    const phdrs = this.p.programHeaders;
    const elf = this.p.file;
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
        throw new PatchError(
          `must add a program header, but section ${s.name || i} follows the program header table and cannot move`,
        );
      }
      if (s.sh_type === SHT_DYNAMIC) throw new PatchError("the dynamic section follows the program header table");
    }
    if (interpMovesAnyway) for (const i of [...chosen]) if (isInterp(secs[i]!)) chosen.delete(i);
    // Contiguous runs become blocks.
    const order = [...chosen].sort((x, y) => Number(secs[x]!.sh_offset - secs[y]!.sh_offset));
    const blocks: Block[] = [];
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

  /** All writes: contents (redirected out of moved blocks), the new segment, and the headers. */
  finish(writes: PlannedWrite[], info: FinishInfo): void {
    const elf = this.p.file;
    const is64 = this.p.wide;
    const little = this.p.littleEndian;
    const secs = this.p.sectionHeaders;
    const shent = elf.header.e_shentsize;

    // Block images, with content writes that land in them applied.
    const blockImages = this.blocks.map((b) => Uint8Array.from(elf.source.read(b.start, b.end - b.start)));
    for (const w of this.contents) {
      const bi = this.blocks.findIndex((b) => w.offset >= b.start && w.offset < b.end);
      if (bi >= 0) blockImages[bi]!.set(w.bytes, w.offset - this.blocks[bi]!.start);
      // Shift mode: the ELF header stays at the start; everything else moves.
      else if (this.shifted && w.offset < this.shifted.headerEnd) writes.push(w);
      else writes.push({ ...w, offset: w.offset + this.shift });
    }

    // Moved contents: into the new segment, or slid within their own.
    this.blocks.forEach((b, i) => writes.push({ offset: b.newOffset!, bytes: blockImages[i]!, what: `moved ${this.movedNames().join(", ")}` }));
    if (this.interpAt && this.request?.interp) writes.push({ offset: this.interpAt.offset, bytes: this.request.interp, what: "interpreter (moved)" });
    const dynstr = this.request?.dynstr;
    if (dynstr && this.dynstrGrowsInPlace) {
      const tail = concat(dynstr.appended);
      writes.push({ offset: dynstr.fileOffset + dynstr.oldSize, bytes: tail, what: ".dynstr (grown in place)" });
      if (this.slackPad) writes.push({ offset: this.slackPad.offset, bytes: new Uint8Array(this.slackPad.size), what: "padding after .dynstr" });
    } else if (dynstr && (this.seg || this.shifted)) {
      writes.push({ offset: this.dynstrOffset, bytes: dynstr.image(), what: ".dynstr (moved)" });
    }
    if (this.seg && this.dynamicAt && this.dynamicBytes) writes.push({ offset: this.dynamicAt.offset, bytes: this.dynamicBytes, what: ".dynamic (moved)" });

    // Program headers.
    const phdrs = this.p.programHeaders.map((ph) => ({ ...ph }));
    let phChanged = this.p.phdrsModified;
    if (this.extended) {
      const ph = phdrs[this.extended.index]!;
      ph.p_filesz += BigInt(this.extended.by);
      ph.p_memsz += BigInt(this.extended.by);
      phChanged = true;
    }
    const follow = (ph: (typeof phdrs)[number]) => {
      const to = this.movedOffset(Number(ph.p_offset));
      if (to === null) return false;
      const d = BigInt(to) - ph.p_offset;
      ph.p_offset += d;
      ph.p_vaddr = this.movedAddress(ph.p_vaddr);
      ph.p_paddr = ph.p_vaddr;
      phChanged = true;
      return true;
    };
    const D = BigInt(this.shift);
    phdrs.forEach((ph, k) => {
      let placed = false;
      if (ph.p_type === PT_NOTE || ph.p_type === PT_GNU_PROPERTY || ph.p_type === PT_INTERP) placed = follow(ph);
      if (ph.p_type === PT_INTERP && info.interpMoves && this.interpAt) {
        ph.p_offset = BigInt(this.interpAt.offset);
        ph.p_vaddr = ph.p_paddr = this.interpAt.vaddr;
        ph.p_filesz = ph.p_memsz = BigInt(info.interpSize);
        phChanged = placed = true;
      }
      if (this.shifted && !placed) {
        // The first segment starts lower and covers the inserted bytes; the table stays at
        // the start of the file; everything else keeps its address one shift later in the file.
        if (k === this.shifted.index) {
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
    for (const ph of phdrs) {
      if (ph.p_type === PT_DYNAMIC && info.dynMoves && this.dynamicAt) {
        ph.p_offset = BigInt(this.dynamicAt.offset);
        ph.p_vaddr = ph.p_paddr = this.dynamicAt.vaddr;
        ph.p_filesz = ph.p_memsz = BigInt(this.dynamicAt.size);
        ph.p_flags |= PF_W;
        phChanged = true;
      }
    }
    if (this.seg) {
      const load = {
        p_type: PT_LOAD,
        p_flags: this.seg.flags,
        p_offset: BigInt(this.seg.offset),
        p_vaddr: this.seg.vaddr,
        p_paddr: this.seg.vaddr,
        p_filesz: BigInt(this.seg.size),
        p_memsz: BigInt(this.seg.size),
        p_align: this.seg.align,
      };
      if (this.nullReused >= 0) phdrs.splice(this.nullReused, 1);
      let lastLoad = -1;
      phdrs.forEach((ph, i) => {
        if (ph.p_type === PT_LOAD) lastLoad = i;
      });
      phdrs.splice(lastLoad + 1, 0, load);
      const tableSize = BigInt(phdrs.length * elf.header.e_phentsize);
      for (const ph of phdrs) {
        if (ph.p_type === PT_PHDR) ph.p_filesz = ph.p_memsz = tableSize;
      }
      phChanged = true;
    }
    if (phChanged) {
      const ent = elf.header.e_phentsize;
      const table = new Uint8Array(phdrs.length * ent);
      phdrs.forEach((ph, i) => table.set(encodeProgramHeader(ph, is64, little), i * ent));
      writes.push({ offset: Number(elf.header.e_phoff), bytes: table, what: "program header table" });
      if (phdrs.length !== elf.phnum) {
        const b = new Uint8Array(2);
        new Encoder(b, little).u16(0, phdrs.length);
        writes.push({ offset: is64 ? 0x38 : 0x2c, bytes: b, what: "e_phnum" });
      }
      if (programHeaderSize(is64) > ent) throw new PatchError(`e_phentsize ${ent} is too small`);
    }

    // Section headers that describe moved or resized contents.
    if (secs && shent >= sectionHeaderSize(is64)) {
      const dynstrAddr = elf.dynamicValue(DT_STRTAB);
      secs.forEach((s, i) => {
        const n = { ...s };
        let changed = false;
        let placed = false;
        const to = this.movedOffset(Number(s.sh_offset));
        if (to !== null && (s.sh_flags & BigInt(SHF_ALLOC)) !== 0n && s.sh_type !== SHT_NOBITS && s.sh_size > 0n) {
          n.sh_addr = this.movedAddress(s.sh_addr);
          n.sh_offset = BigInt(to);
          changed = placed = true;
        }
        if (this.request?.dynstr && s.sh_type === SHT_STRTAB && s.sh_addr === dynstrAddr && (s.sh_flags & BigInt(SHF_ALLOC)) !== 0n) {
          n.sh_addr = this.dynstrAddr!;
          n.sh_offset = BigInt(this.dynstrOffset);
          n.sh_size = BigInt(this.request.dynstr.newSize);
          changed = placed = true;
        }
        if (s.sh_type === SHT_DYNAMIC && info.dynMoves && this.dynamicAt) {
          n.sh_addr = this.dynamicAt.vaddr;
          n.sh_offset = BigInt(this.dynamicAt.offset);
          n.sh_size = BigInt(this.dynamicAt.size);
          n.sh_flags |= BigInt(SHF_WRITE);
          changed = placed = true;
        }
        if (info.interpMoves && this.interpAt && info.interpPh && s.sh_type === SHT_PROGBITS && s.sh_offset === info.interpPh.p_offset && s.sh_size > 0n) {
          n.sh_addr = this.interpAt.vaddr;
          n.sh_offset = BigInt(this.interpAt.offset);
          n.sh_size = BigInt(info.interpSize);
          changed = placed = true;
        }
        if (s.sh_type === SHT_GNU_verneed && (info.verneedFirstRemoved || s.sh_info !== info.verneedCount)) {
          if (info.verneedFirstRemoved && info.verneedNewStart !== undefined) {
            // The table now starts at the first live entry.
            const delta = BigInt(info.verneedNewStart) - s.sh_offset;
            n.sh_offset = BigInt(this.mapOffset(Number(s.sh_offset))) + delta;
            n.sh_addr = this.movedAddress(s.sh_addr) + delta;
            n.sh_size = s.sh_size - delta;
            placed = true;
          }
          n.sh_info = info.verneedCount;
          changed = true;
        }
        if (this.shift > 0 && i > 0 && !placed) {
          n.sh_offset = s.sh_offset + BigInt(this.shift);
          changed = true;
        }
        if (changed) {
          writes.push({
            offset: Number(elf.header.e_shoff) + this.shift + i * shent,
            bytes: encodeSectionHeader(n, is64, little),
            what: `section header ${s.name || i}`,
          });
        }
      });
    }
    if (this.shifted) this.consolidateStart(writes, secs !== null && shent >= sectionHeaderSize(is64));
    assertDisjoint(writes);
  }
}

/** DT_TEXTREL, or DF_TEXTREL in DT_FLAGS: relocations may write anywhere, even into tables a layout would move. */
function hasTextRelocations(dyn: readonly DynamicEntry[]): boolean {
  const flags = dyn.find((e) => e.d_tag === BigInt(DT_FLAGS))?.d_val ?? 0n;
  return dyn.some((e) => e.d_tag === BigInt(DT_TEXTREL)) || (flags & BigInt(DF_TEXTREL)) !== 0n;
}

/** True when a dynamic entry that may hold an address, and that `updated` does not cover, points into [lo, hi). */
function foreignTagPointsInto(dyn: readonly DynamicEntry[], lo: bigint, hi: bigint, updated: (tag: bigint) => boolean): boolean {
  return dyn.some((e) => e.d_val >= lo && e.d_val < hi && !isNonAddressTag(e.d_tag) && !updated(e.d_tag));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function assertDisjoint(writes: PlannedWrite[]): void {
  const sorted = [...writes].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (prev.offset + prev.bytes.length > sorted[i]!.offset) {
      // Two structures of the file claim the same bytes (a corrupt or hostile file): refuse.
      throw new PatchError(`its ${prev.what} and ${sorted[i]!.what} overlap in the file: refusing to rewrite it`);
    }
  }
}

