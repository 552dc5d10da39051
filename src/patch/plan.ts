// The rewrite of one file, planned without writing anything, as a pipeline of steps that
// pass data on: the edit model (model.ts) -> string placement (strings.ts) -> one layout
// strategy when something must grow (layout/: slack, shift, new segment) -> the content
// writes at old offsets -> emission (emit.ts), which redirects them and adds the headers.
import { DT_STRTAB, DT_STRSZ, DT_VERNEED, DT_VERNEEDNUM, PF_R, PF_W, STRING_TAGS, VERNEED, type DynamicEntry, type ElfFile } from "../elf/index.js";
import { Encoder, encodeDynamicTable } from "../elf/write/index.js";
import { FieldRangeError, PatchError } from "../errors.js";
import type { Edit } from "./edits.js";
import { emitWrites } from "./emit.js";
import { placeNewSegment } from "./layout/new-segment.js";
import { placeByShift } from "./layout/shift.js";
import { placeInSlack } from "./layout/slack.js";
import { symbolValueWrites } from "./layout/symbol-values.js";
import {
  MOVABLE_POINTER_TAGS,
  RELOCATION_TAGS,
  movedAddress,
  movedNames,
  offsetToAddress,
  type FileView,
  type GrowthRequest,
  type Placement,
} from "./layout/view.js";
import { buildModel, dynamicChanged, type PlannedWrite, type VerneedEntry } from "./model.js";
import { renameSymbolWrites } from "./rename-symbols.js";
import { placeStrings, type StringPlan } from "./strings.js";

export type { PlannedWrite };

/** How the file's layout changes: one decision. */
export type LayoutDecision =
  /** Everything fits where it is: nothing moves. */
  | { kind: "in-place" }
  /** The PT_LOAD at program header `index` grew `bytes` into the unused space after it (the file does not grow). */
  | { kind: "slack"; index: number; bytes: number }
  /** `bytes` inserted at the start of the file, below an executable's first segment, which starts that much lower. */
  | { kind: "shift"; bytes: number }
  /** A new PT_LOAD after the end of the file. */
  | { kind: "new-segment"; offset: number; vaddr: bigint; size: number; flags: string };

/** What a patch will do to one file, computed without writing anything. */
export interface PatchPlan {
  /** One line per changed value, e.g. `runpath: /a -> /a:/b`. Empty when nothing changes. */
  changes: string[];
  writes: PlannedWrite[];
  oldSize: number;
  newSize: number;
  layout: LayoutDecision;
  /** Sections moved into the new segment, or slid within their own to make room, by name. */
  moved: string[];
}

/** Bytes inserted before the old contents (the shift layout); 0 otherwise. */
export const shiftOf = (plan: PatchPlan): number => (plan.layout.kind === "shift" ? plan.layout.bytes : 0);

export type Layout = "auto" | "new-segment" | "shift";
export const LAYOUTS: readonly Layout[] = ["auto", "new-segment", "shift"];

/** How the planner may lay out what grows. */
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

/** Spare DT_NULL slots given to a moved dynamic table, so that later additions fit in place. */
const DYNAMIC_SPARE = 2;
const MIN_PAGE = 4096n;
const utf8 = new TextEncoder();

/** Computes the rewrite of `elf` that applies `edits`. Reads only; throws PatchError or ElfError. */
export function planPatch(elf: ElfFile, edits: readonly Edit[], options: PlanOptions = {}): PatchPlan {
  try {
    return plan(elf, edits, options);
  } catch (e) {
    // A moved offset or address no longer fits the file's class.
    if (e instanceof FieldRangeError) throw new PatchError(`cannot be rewritten: ${e.message}`);
    throw e;
  }
}

function plan(elf: ElfFile, edits: readonly Edit[], options: PlanOptions): PatchPlan {
  const oldSize = elf.source.size;
  const sections = elf.sectionsIfUsable();
  const m = buildModel(elf, edits);
  const { dyn, interpPh } = m;
  const dynChanged = dynamicChanged(m);
  if (m.interp === m.oldInterp && !dynChanged && m.extraWrites.length === 0 && !m.phdrsModified && m.note === null) {
    return { changes: [], writes: [], oldSize, newSize: oldSize, layout: { kind: "in-place" }, moved: [] };
  }
  const view: FileView = {
    elf,
    phdrs: m.phdrs,
    sections,
    oldSize,
    minPage: options.pageSize !== undefined ? BigInt(Math.max(options.pageSize, 1)) : MIN_PAGE,
    is64: elf.is64,
    little: elf.little,
  };
  const contents: PlannedWrite[] = [...m.extraWrites];

  // Strings: reuse what the table has, then space freed by this patch, then append.
  const strings = dyn && dynChanged ? placeStrings(elf, dyn, m) : null;

  // What must grow, and where it goes.
  const liveVerneed = m.verneed.filter((v) => !v.removed);
  const finalSlots =
    m.verneed.length > 0 && liveVerneed.length === 0 ? m.slots.filter((s) => s.tag !== BigInt(DT_VERNEED) && s.tag !== BigInt(DT_VERNEEDNUM)) : m.slots;
  const dynMoves = dyn !== null && dynChanged && finalSlots.length + 1 > dyn.capacity;
  const interpMoves = m.interp !== m.oldInterp && interpPh !== null && utf8.encode(m.interp!).length + 1 > Number(interpPh.p_filesz);
  const strtabMoves = strings !== null && strings.appended.length > 0;
  let request: GrowthRequest | null = null;
  let placement: Placement | null = null;
  if (dynMoves || interpMoves || strtabMoves || m.note !== null) {
    request = {
      interp: interpMoves ? utf8.encode(m.interp! + "\0") : null,
      dynstr: strtabMoves ? strings : null,
      dynamicSlots: dynMoves ? finalSlots.length + 1 + DYNAMIC_SPARE : 0,
      writable: dynMoves,
      note: m.note?.bytes ?? null,
    };
    // An added note needs a PT_NOTE and a new section: only a new segment adds headers.
    placement = choosePlacement(view, request, m.note !== null ? "new-segment" : (options.layout ?? "auto"));
    contents.push(...symbolValueWrites(view, placement));
  }

  // Content writes at their original offsets (redirected into moved blocks by emission).
  if (m.interp !== m.oldInterp && !interpMoves && interpPh) {
    const bytes = new Uint8Array(Number(interpPh.p_filesz));
    bytes.set(utf8.encode(m.interp!));
    contents.push({ offset: Number(interpPh.p_offset), bytes, what: "interpreter (in place)" });
  }
  if (strings && (!strtabMoves || (placement?.kind === "slack" && request?.dynstr))) {
    for (const w of strings.inPlace) contents.push({ offset: strings.fileOffset + w.offset, bytes: w.bytes, what: `.dynstr string at 0x${w.offset.toString(16)}` });
  }
  if (dyn && dynChanged) contents.push(...verneedWrites(m.verneed, strings!, elf.little));
  if (m.renames.size > 0) {
    const renamed = new Map([...m.renames].map(([i, name]) => [i, { bytes: utf8.encode(name), offset: strings!.offsets.get(name)! }]));
    contents.push(...renameSymbolWrites(elf, renamed));
  }

  // Dynamic entries, with final addresses (also when only what they point at moved).
  let movedDynamic: Uint8Array | null = null;
  if (dyn && (dynChanged || placement !== null)) {
    const blocks = placement?.blocks ?? [];
    const entries: DynamicEntry[] = finalSlots.map((s) => {
      let val = s.val;
      if (STRING_TAGS.has(s.tag)) val = BigInt(s.strOff ?? strings!.offsets.get(s.str!)!);
      if (MOVABLE_POINTER_TAGS.has(s.tag) || RELOCATION_TAGS.has(s.tag)) val = movedAddress(blocks, val);
      if (s.tag === BigInt(DT_STRTAB) && strtabMoves) val = placement!.dynstr!.vaddr;
      if (s.tag === BigInt(DT_STRSZ) && strtabMoves) val = BigInt(strings!.newSize);
      if (s.tag === BigInt(DT_VERNEED) && liveVerneed.length > 0 && m.verneed[0]!.removed) {
        val = movedAddress(blocks, offsetToAddress(view, liveVerneed[0]!.offset));
      }
      if (s.tag === BigInt(DT_VERNEEDNUM)) val = BigInt(liveVerneed.length);
      return { d_tag: s.tag, d_val: val };
    });
    if (dynMoves) movedDynamic = encodeDynamicTable(entries, finalSlots.length + 1 + DYNAMIC_SPARE, view.is64, view.little);
    else contents.push({ offset: dyn.offset, bytes: encodeDynamicTable(entries, dyn.capacity, view.is64, view.little), what: ".dynamic (in place)" });
  }

  const writes = emitWrites(view, placement, { model: m, request, contents, movedDynamic });
  // A new segment leaves the old interpreter and .dynstr behind, unreferenced: what this patch
  // drops from them is cleared where nothing else is written, so no stale path stays in the
  // file (a Nix reference scan, or relink's, would find it).
  if (placement?.kind === "new-segment") {
    const stale: { start: number; end: number }[] = [];
    if (interpMoves && interpPh) stale.push({ start: Number(interpPh.p_offset), end: Number(interpPh.p_offset + interpPh.p_filesz) });
    if (strtabMoves && strings) for (const d of strings.dropped) stale.push({ start: strings.fileOffset + d.start, end: strings.fileOffset + d.end });
    writes.push(...clearUncovered(stale, writes));
  }
  const layout = layoutDecision(placement);
  const shift = layout.kind === "shift" ? layout.bytes : 0;
  return {
    changes: m.changes,
    writes,
    oldSize,
    newSize: Math.max(oldSize + shift, ...writes.map((w) => w.offset + w.bytes.length)),
    layout,
    moved: [...(placement?.kind === "new-segment" && placement.phdrTable ? ["program header table"] : []), ...movedNames(view, placement?.blocks ?? [])],
  };
}

/** Zero writes for the parts of `ranges` no write in `writes` covers. */
function clearUncovered(ranges: readonly { start: number; end: number }[], writes: readonly PlannedWrite[]): PlannedWrite[] {
  const out: PlannedWrite[] = [];
  for (const r of ranges) {
    let parts = [r];
    for (const w of writes) {
      const ws = w.offset;
      const we = w.offset + w.bytes.length;
      parts = parts.flatMap((p) => (we <= p.start || ws >= p.end ? [p] : [...(ws > p.start ? [{ start: p.start, end: ws }] : []), ...(we < p.end ? [{ start: we, end: p.end }] : [])]));
    }
    for (const p of parts) if (p.end > p.start) out.push({ offset: p.start, bytes: new Uint8Array(p.end - p.start), what: "stale string (cleared)" });
  }
  return out;
}

/**
 * In the slack after .dynstr's segment when it fits (the file does not grow); else, for an
 * executable whose tables are larger than a page, patchelf's layout (the file shifts by
 * whole pages and its first segment starts lower) when it grows the file less than a new
 * segment would; else a new segment.
 */
function choosePlacement(view: FileView, request: GrowthRequest, choice: Layout): Placement {
  // What a new segment would add, measured by laying it out (Infinity where it cannot be).
  const segmentGrowth = () => {
    try {
      return placeNewSegment(view, request).growth;
    } catch (e) {
      if (e instanceof PatchError) return Infinity;
      throw e;
    }
  };
  return (
    (choice === "auto" ? placeInSlack(view, request) : null) ??
    (choice !== "new-segment" ? placeByShift(view, request, choice === "shift" ? () => Infinity : segmentGrowth) : null) ??
    placeNewSegment(view, request)
  );
}

function layoutDecision(p: Placement | null): LayoutDecision {
  if (!p) return { kind: "in-place" };
  switch (p.kind) {
    case "slack":
      return { kind: "slack", index: p.index, bytes: p.by };
    case "shift":
      return { kind: "shift", bytes: p.shift };
    case "new-segment": {
      const f = p.segment.flags;
      return { kind: "new-segment", offset: p.segment.offset, vaddr: p.segment.vaddr, size: p.segment.size, flags: `${f & PF_R ? "R" : ""}${f & PF_W ? "W" : ""}` };
    }
  }
}

/** .gnu.version_r: renamed file names, and the chain re-linked past removed entries. */
function verneedWrites(verneed: readonly VerneedEntry[], strings: StringPlan, little: boolean): PlannedWrite[] {
  const writes: PlannedWrite[] = [];
  const live = verneed.filter((v) => !v.removed);
  const u32 = (v: number) => {
    const b = new Uint8Array(4);
    new Encoder(b, little).u32(0, v);
    return b;
  };
  for (const v of live) {
    if (v.rename !== undefined) writes.push({ offset: v.offset + VERNEED.offset.vn_file, bytes: u32(strings.offsets.get(v.rename)!), what: `.gnu.version_r file name of ${v.file}` });
  }
  if (live.length === verneed.length) return writes;
  // Unlink removed entries: each live entry's vn_next points at the next live one.
  live.forEach((v, i) => {
    const next = live[i + 1];
    const rel = next ? next.offset - v.offset : 0;
    if (rel !== v.next) writes.push({ offset: v.offset + VERNEED.offset.vn_next, bytes: u32(rel >>> 0), what: `.gnu.version_r link after ${v.file}` });
  });
  return writes;
}
