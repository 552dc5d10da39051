// The planner's first step: the file's loader-visible references read into an editable
// model (the interpreter, the dynamic entries with their strings, the version requirements),
// the edits applied to it, and one line per change for people.
import {
  DT_DEBUG,
  DT_FLAGS_1,
  DT_NEEDED,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_VERSYM,
  EI_OSABI,
  PF_X,
  PT_DYNAMIC,
  PT_GNU_STACK,
  PT_INTERP,
  STRING_TAGS,
  VERSYM_VERSION,
  checkedNumber,
  decodeDynamicEntries,
  dynamicReadLength,
  type DynamicEntry,
  MalformedError,
  type ElfFile,
  type ProgramHeader,
  type SectionHeader,
} from "../elf/index.js";
import { Encoder, dynamicEntrySize } from "../elf/write/index.js";
import { PatchError } from "../errors.js";
import { describeEdit, replacePrefix, replacePrefixInto, splitSearchPath, tableGroup, type Edit } from "./edits.js";
import { LDCACHE_SECTION } from "./ldcache.js";
import { dropResolutionNote, liveNoteSection, resolutionInputs } from "./stale-note.js";

/** A write at an original file offset (the layout may redirect it into a moved block). */
export interface PlannedWrite {
  /** File offset; at or past the old size for the new segment. */
  offset: number;
  bytes: Uint8Array;
  /** What the bytes are, for --dry-run and debugging. */
  what: string;
}

/** One dynamic entry as edited; string tags carry their string. */
export interface DynSlot {
  tag: bigint;
  val: bigint;
  /** The string for string tags. */
  str?: string;
  /** The string's original offset, while the entry still holds the original string. */
  strOff?: number;
}

/** One `.gnu.version_r` entry as edited. */
export interface VerneedEntry {
  offset: number;
  file: string;
  fileOff: number;
  next: number;
  versionIndexes: number[];
  nameOffs: number[];
  rename?: string;
  removed?: boolean;
}

/** The dynamic table as found: where, how many entries fit, and its entries. */
export interface DynamicTable {
  offset: number;
  capacity: number;
  entries: DynamicEntry[];
  vaddr: bigint;
}

/** The file's references after the edits, beside what they were. */
export interface EditModel {
  readonly interpPh: ProgramHeader | null;
  readonly oldInterp: string | null;
  readonly interp: string | null;
  readonly dyn: DynamicTable | null;
  readonly slots: DynSlot[];
  readonly verneed: VerneedEntry[];
  /** Dynamic symbols to rename: index -> new name. */
  readonly renames: Map<number, string>;
  /** Writes that change neither strings nor layout (versym entries, EI_OSABI), at original offsets. */
  readonly extraWrites: PlannedWrite[];
  /** Program headers with their own fields edited (PT_GNU_STACK flags). */
  readonly phdrs: ProgramHeader[];
  readonly phdrsModified: boolean;
  /** A note section to add (the "add-note" edit), when the file does not have it already. */
  readonly note: AddedNote | null;
  /** One line per changed value, e.g. `runpath: /a -> /a:/b`. */
  readonly changes: string[];
  /** The run path or NEEDED entries changed (what a resolution cache note records). */
  readonly resolutionInputsChanged: boolean;
}

/** A new allocated note section: its name and contents (whole note records). */
export interface AddedNote {
  readonly section: string;
  readonly bytes: Uint8Array;
}

/** Reads the file into the model and applies `edits` in order. Throws PatchError for an edit the file cannot take. */
export function buildModel(elf: ElfFile, edits: readonly Edit[]): EditModel {
  const phdrs = [...elf.programHeaders];
  const interpPh = phdrs.find((p) => p.p_type === PT_INTERP) ?? null;
  const dynPh = phdrs.find((p) => p.p_type === PT_DYNAMIC) ?? null;
  const needsDynamic = edits.some((e) => e.op !== "set-interpreter" && e.op !== "set-os-abi" && e.op !== "set-execstack" && e.op !== "add-note");
  // Without PT_DYNAMIC, a consistent .dynamic section is edited through the section headers, as patchelf does.
  const dynSection = needsDynamic && !dynPh ? adoptDynamicSection(elf) : null;
  if (needsDynamic && !dynPh && !dynSection) throw new PatchError("has no dynamic section (PT_DYNAMIC): a statically linked file has no NEEDED, RUNPATH or SONAME to edit");

  const oldInterp = interpPh ? elf.interpreter : null;
  const dyn = dynPh
    ? readDynamic(elf, dynPh.p_offset, dynPh.p_filesz, dynPh.p_vaddr)
    : dynSection
      ? readDynamic(elf, dynSection.sh_offset, dynSection.sh_size, dynSection.sh_addr)
      : null;
  const m = {
    interpPh,
    oldInterp,
    interp: oldInterp,
    dyn,
    slots: dyn ? dyn.entries.map((e) => slotOf(elf, e)) : [],
    verneed: dyn ? readVerneed(elf) : [],
    renames: new Map<number, string>(),
    extraWrites: [] as PlannedWrite[],
    phdrs,
    phdrsModified: false,
    note: null as AddedNote | null,
    changes: [] as string[],
    resolutionInputsChanged: false,
  };
  const inputsBefore = resolutionInputs(m.slots);
  applyEdits(elf, m, edits);
  m.resolutionInputsChanged = resolutionInputs(m.slots) !== inputsBefore;
  for (const v of m.verneed) if (v.rename === v.file) delete v.rename;
  if (m.interp !== oldInterp) m.changes.push(`interpreter: ${oldInterp} -> ${m.interp}`);
  if (dyn) describeDynamicChanges(elf, m, dyn.entries);
  settleNotes(elf, m);
  return m;
}

/** True when the edits changed the dynamic table, its strings or the version requirements. */
export function dynamicChanged(m: EditModel): boolean {
  const dyn = m.dyn;
  return (
    dyn !== null &&
    (m.renames.size > 0 ||
      m.slots.length !== dyn.entries.length ||
      m.slots.some((s, i) => s.tag !== dyn.entries[i]!.d_tag || (STRING_TAGS.has(s.tag) ? s.strOff === undefined : s.val !== dyn.entries[i]!.d_val)) ||
      m.verneed.some((v) => v.removed || v.rename !== undefined))
  );
}

type Mutable = { -readonly [K in keyof EditModel]: EditModel[K] };

function applyEdits(elf: ElfFile, m: Mutable, edits: readonly Edit[]): void {
  const slots = m.slots;
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
        clearSymbolVersion(elf, m, e.name);
        break;
      case "set-os-abi": {
        // The last one given wins; a value the file has already is no change.
        const earlier = m.extraWrites.findIndex((w) => w.offset === EI_OSABI);
        if (earlier >= 0) m.extraWrites.splice(earlier, 1);
        m.changes = m.changes.filter((c) => !c.startsWith("os/abi: "));
        if (elf.header.ei_osabi !== e.value) {
          m.extraWrites.push({ offset: EI_OSABI, bytes: Uint8Array.of(e.value), what: "EI_OSABI" });
          m.changes.push(`os/abi: ${elf.header.ei_osabi} -> ${e.value}`);
        }
        break;
      }
      case "set-execstack": {
        const i = m.phdrs.findIndex((p) => p.p_type === PT_GNU_STACK);
        if (i < 0) throw new PatchError("has no PT_GNU_STACK program header to change");
        // The last one given wins, measured against the file as it is.
        const original = elf.programHeaders[i]!;
        const flags = e.executable ? original.p_flags | PF_X : original.p_flags & ~PF_X;
        m.phdrs[i] = { ...m.phdrs[i]!, p_flags: flags };
        m.phdrsModified = m.phdrs.some((p, k) => p !== elf.programHeaders[k] && p.p_flags !== elf.programHeaders[k]!.p_flags);
        m.changes = m.changes.filter((c) => !c.startsWith("execstack: "));
        if (flags !== original.p_flags) m.changes.push(`execstack: ${e.executable ? "- -> X" : "X -> -"}`);
        break;
      }
      case "rename-symbols": {
        const map = new Map(e.map);
        const offs = elf.symbolNameOffsets();
        for (let i = 1; i < offs.length; i++) {
          const old = m.renames.get(i) ?? elf.dynamicStrings.get(offs[i]!);
          const to = map.get(old);
          if (to !== undefined && to !== old) {
            if (to === "") throw new PatchError(`cannot rename ${old} to an empty name`);
            m.renames.set(i, to);
          }
        }
        break;
      }
      case "set-interpreter":
        if (!m.interpPh) throw new PatchError("has no interpreter (PT_INTERP) to set: a shared library or a statically linked program");
        if (e.path === "") throw new PatchError("the interpreter cannot be empty");
        m.interp = e.path;
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
      case "replace-prefix":
      case "replace-prefix-into": {
        const move = (p: string, kind: "dir" | "file"): string | null =>
          e.op === "replace-prefix" ? replacePrefix(p, e.from, e.to) : replacePrefixInto(p, e, tableGroup(elf.header.class, elf.header.e_machine), kind);
        if (m.interp !== null) m.interp = move(m.interp, "file") ?? m.interp;
        for (const s of searchTags()) {
          // Into a table, several OLD directories (lib, lib64; two builds) become one: searched
          // once, where the first of them was (a later search of it finds nothing new).
          const entries: string[] = [];
          const into = new Set<string>();
          for (const p of splitSearchPath(s.str!)) {
            const to = move(p, "dir");
            if (e.op === "replace-prefix") entries.push(to ?? p);
            else if (to !== null) {
              if (!entries.includes(to)) entries.push(to);
              into.add(to);
            } else if (!into.has(p)) entries.push(p);
          }
          setStr(s, entries.join(":"));
        }
        for (const s of slots) {
          if (s.tag === BigInt(DT_NEEDED) && s.str!.includes("/")) setStr(s, move(s.str!, "file") ?? s.str!);
        }
        for (const v of m.verneed) {
          const name = v.rename ?? v.file;
          if (!v.removed && name.includes("/")) {
            const r = move(name, "file");
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
        for (const v of m.verneed) {
          if (!v.removed && (v.rename ?? v.file) === e.name) {
            checkVersionsUnused(elf, v);
            v.removed = true;
          }
        }
        break;
      }
      case "replace-needed":
        for (const s of slots) if (s.tag === BigInt(DT_NEEDED) && s.str === e.from) setStr(s, e.to);
        for (const v of m.verneed) if (!v.removed && (v.rename ?? v.file) === e.from) v.rename = e.to;
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
      case "add-note":
        m.note = { section: e.section, bytes: e.note };
        break;
      default:
        throw new PatchError(`unknown edit ${describeEdit(e satisfies never)}`);
    }
  }
}

/**
 * The note to add (settled after all edits): none when the file has a live section of that
 * name with these bytes already; refused when it has different bytes, except that a stale
 * resolution cache note (the run path or NEEDED changed) is replaced. Without a note to add,
 * a stale resolution cache note is dropped.
 */
function settleNotes(elf: ElfFile, m: Mutable): void {
  const inputsChanged = m.resolutionInputsChanged;
  const drop = (why: string) => {
    const d = dropResolutionNote(elf, m.phdrs);
    if (!d) return;
    m.extraWrites.push(...d.writes);
    if (d.phdrsModified) m.phdrsModified = true;
    m.changes.push(`${LDCACHE_SECTION}: ${d.size} bytes -> (dropped: ${why})`);
  };
  const note = m.note;
  if (!note) {
    if (inputsChanged) drop("the run path or NEEDED changed");
    return;
  }
  const secs = elf.sectionsIfUsable();
  if (!secs || secs.length === 0) throw new PatchError(`has no usable section headers: cannot add the ${note.section} section`);
  const old = liveNoteSection(elf, note.section)?.section;
  if (old) {
    const fits = old.sh_size === BigInt(note.bytes.length) && old.sh_offset + old.sh_size <= BigInt(elf.source.size);
    if (fits && Buffer.from(elf.source.read(Number(old.sh_offset), note.bytes.length)).equals(note.bytes)) {
      m.note = null;
      return;
    }
    if (note.section !== LDCACHE_SECTION || !inputsChanged) throw new PatchError(`a different ${note.section} note is already present: refusing to replace it`);
    drop("replaced");
  }
  m.changes.push(`${note.section}: (none) -> ${note.bytes.length} bytes`);
}

function readDynamic(elf: ElfFile, offset: bigint, size: bigint, vaddr: bigint): DynamicTable {
  const d = elf.readAt(offset, dynamicReadLength(size, elf.is64), "dynamic table");
  const entries = decodeDynamicEntries(d, elf.is64);
  return { offset: d.base, capacity: Math.floor(d.length / dynamicEntrySize(elf.is64)), entries, vaddr };
}

/** The file's consistent .dynamic section, adopted by the reader, or null; a PatchError when the section headers disagree. */
function adoptDynamicSection(elf: ElfFile): SectionHeader | null {
  try {
    return elf.adoptDynamicSection();
  } catch (e) {
    if (e instanceof MalformedError) throw new PatchError(e.message);
    throw e;
  }
}

function slotOf(elf: ElfFile, e: DynamicEntry): DynSlot {
  if (!STRING_TAGS.has(e.d_tag)) return { tag: e.d_tag, val: e.d_val };
  const off = checkedNumber(e.d_val, "dynamic string offset");
  return { tag: e.d_tag, val: e.d_val, str: elf.dynamicStrings.get(off), strOff: off };
}

function readVerneed(elf: ElfFile): VerneedEntry[] {
  return elf.versionRequirements.map((r) => ({
    offset: r.offset,
    file: r.file,
    fileOff: r.vn_file,
    next: r.vn_next,
    versionIndexes: r.versions.map((v) => v.vna_other & VERSYM_VERSION),
    nameOffs: r.versions.map((v) => v.vna_name),
  }));
}

/** Refuses to drop a library's version requirement while a symbol still binds to one of its versions. */
function checkVersionsUnused(elf: ElfFile, v: VerneedEntry): void {
  const versym = elf.versymValues();
  if (!versym) return;
  const wanted = new Set(v.versionIndexes);
  const users: string[] = [];
  for (let i = 1; i < versym.length; i++) {
    if (wanted.has(versym[i]! & VERSYM_VERSION)) {
      users.push(elf.dynamicSymbol(i).name);
      if (users.length > 3) break;
    }
  }
  if (users.length > 0) {
    throw new PatchError(`cannot remove ${v.file}: symbols still need its versions (${users.slice(0, 3).join(", ")}${users.length > 3 ? ", …" : ""})`);
  }
}

/** versym 1 (global, unversioned) for every dynamic symbol named `name`, as patchelf does. */
function clearSymbolVersion(elf: ElfFile, m: Mutable, name: string): void {
  const versym = elf.versymValues();
  const addr = elf.dynamicValue(DT_VERSYM);
  if (!versym || addr === undefined) throw new PatchError("has no symbol versions (DT_VERSYM) to clear");
  const names = elf.symbolNameOffsets();
  const base = elf.addressToOffset(addr, versym.length * 2, "DT_VERSYM");
  const table = elf.dynamicStrings;
  for (let i = 1; i < versym.length && i < names.length; i++) {
    if (versym[i] === 1 || table.get(names[i]!) !== name) continue;
    const b = new Uint8Array(2);
    new Encoder(b, elf.little).u16(0, 1);
    m.extraWrites.push({ offset: base + i * 2, bytes: b, what: `versym of ${name}` });
    m.changes.push(`version of ${name}: cleared`);
  }
}

function describeDynamicChanges(elf: ElfFile, m: Mutable, before: readonly DynamicEntry[]): void {
  const after = m.slots;
  const hex = (n: bigint) => `0x${n.toString(16)}`;
  const tagName = (t: bigint) =>
    ({ [DT_NEEDED]: "needed", [DT_SONAME]: "soname", [DT_RPATH]: "rpath", [DT_RUNPATH]: "runpath" })[Number(t)] ?? `tag ${hex(t)}`;
  const strOf = (e: DynamicEntry) => elf.dynamicStrings.get(Number(e.d_val));
  const list = (entries: { tag: bigint; str: string }[], tag: number) => entries.filter((e) => e.tag === BigInt(tag)).map((e) => e.str);
  const b = before.filter((e) => STRING_TAGS.has(e.d_tag)).map((e) => ({ tag: e.d_tag, str: strOf(e) }));
  const a = after.filter((s) => STRING_TAGS.has(s.tag)).map((s) => ({ tag: s.tag, str: s.str! }));
  for (const tag of [DT_SONAME, DT_RPATH, DT_RUNPATH]) {
    const x = list(b, tag).join(" ");
    const y = list(a, tag).join(" ");
    if (x !== y) m.changes.push(`${tagName(BigInt(tag))}: ${x || "(none)"} -> ${y || "(none)"}`);
  }
  for (const [tag, name] of [[DT_FLAGS_1, "DT_FLAGS_1"], [DT_DEBUG, "DT_DEBUG"]] as const) {
    const x = before.find((e) => e.d_tag === BigInt(tag));
    const y = after.find((e) => e.tag === BigInt(tag));
    if (x?.d_val !== y?.val || (x === undefined) !== (y === undefined)) {
      m.changes.push(`${name}: ${x ? hex(x.d_val) : "(none)"} -> ${y ? hex(y.val) : "(none)"}`);
    }
  }
  const nb = list(b, DT_NEEDED);
  const na = list(a, DT_NEEDED);
  if (nb.join("\0") !== na.join("\0")) m.changes.push(`needed: ${nb.join(" ") || "(none)"} -> ${na.join(" ") || "(none)"}`);
  const nameOffs = m.renames.size > 0 ? elf.symbolNameOffsets() : null;
  for (const [i, n] of m.renames) m.changes.push(`symbol ${elf.dynamicStrings.get(nameOffs![i]!)} -> ${n}`);
  for (const v of m.verneed) {
    if (v.removed) m.changes.push(`version requirements: removed ${v.file}`);
    else if (v.rename !== undefined) m.changes.push(`version requirements: ${v.file} -> ${v.rename}`);
  }
}
