import { Decoder } from "./bytes.js";
import { MalformedError } from "./errors.js";

export const VER_NDX_LOCAL = 0;
export const VER_NDX_GLOBAL = 1;
export const VERSYM_HIDDEN = 0x8000;
export const VERSYM_VERSION = 0x7fff;
export const VER_FLG_BASE = 0x1;
export const VER_FLG_WEAK = 0x2;

export const VERDEF_SIZE = 20;
export const VERDAUX_SIZE = 8;
export const VERNEED_SIZE = 16;
export const VERNAUX_SIZE = 16;

/** One `.gnu.version_d` entry: a version this object defines, with its parents. */
export interface VersionDefinition {
  readonly vd_version: number;
  readonly vd_flags: number;
  readonly vd_ndx: number;
  readonly vd_hash: number;
  /** The first verdaux name: the version's own name. */
  readonly name: string;
  /** Names of the remaining verdaux entries (the versions this one inherits from). */
  readonly parents: string[];
  /** vda_name of every verdaux entry, in order: the string table offsets of `name` and `parents`. */
  readonly nameOffsets: number[];
  /** File offset of the entry. */
  readonly offset: number;
}

/** One `.gnu.version_r` auxiliary entry: a version required from `file`. */
export interface VersionRequirementAux {
  readonly vna_hash: number;
  readonly vna_flags: number;
  readonly vna_other: number;
  /** String table offset of `name`. */
  readonly vna_name: number;
  readonly name: string;
  readonly offset: number;
}

/** One `.gnu.version_r` entry: a library and the versions required from it. */
export interface VersionRequirement {
  readonly vn_version: number;
  /** String table offset of `file`. */
  readonly vn_file: number;
  /** Offset of the next entry, relative to this one (0 for the last). */
  readonly vn_next: number;
  readonly file: string;
  readonly versions: VersionRequirementAux[];
  readonly offset: number;
}

type Read = (offset: number, length: number) => Decoder;
type Str = (offset: number, at: number) => string;

/** How to read version records: file access, the dynamic string table, and the file's shape. */
export interface VersionReadContext {
  read: Read;
  str: Str;
  fileSize: number;
  /** ELF32: `next` offsets wrap at 2^32 as they do for a 32-bit loader. */
  is32: boolean;
}

/**
 * Follows a `next` chain of records starting at `start`. Stops after `count` records
 * or a zero `next`; a record visited twice is a loop and is rejected, so the walk
 * ends on any input.
 */
function walkChain(
  start: number,
  count: number,
  what: string,
  wrap32: boolean,
  visit: (offset: number) => number,
): void {
  const seen = new Set<number>();
  let at = start;
  for (let i = 0; i < count; i++) {
    if (seen.has(at)) throw new MalformedError(`${what} chain loops back on itself`, at);
    seen.add(at);
    const next = visit(at);
    if (next === 0) {
      if (i + 1 < count) throw new MalformedError(`${what} chain ends after ${i + 1} of ${count} entries`, at);
      return;
    }
    // A 32-bit consumer adds the 32-bit `next` with wrap-around, so a large value steps backwards.
    at = wrap32 ? (at + next) % 2 ** 32 : at + next;
  }
}

/** Bounds a count read from the file by how many records the file could hold. */
function checkCount(count: number, recordSize: number, fileSize: number, what: string, at: number): void {
  if (count * recordSize > fileSize) {
    throw new MalformedError(`${what} count ${count} cannot fit in the file`, at);
  }
}

export function parseVersionDefinitions(ctx: VersionReadContext, start: number, count: number): VersionDefinition[] {
  const { read, str, fileSize, is32 } = ctx;
  checkCount(count, VERDEF_SIZE, fileSize, "DT_VERDEFNUM", start);
  const out: VersionDefinition[] = [];
  walkChain(start, count, "verdef", is32, (at) => {
    const d = read(at, VERDEF_SIZE);
    const vd_cnt = d.u16(6);
    const vd_aux = d.u32(12);
    checkCount(vd_cnt, VERDAUX_SIZE, fileSize, "vd_cnt", at);
    const names: string[] = [];
    const nameOffsets: number[] = [];
    if (vd_cnt > 0) {
      walkChain(at + vd_aux, vd_cnt, "verdaux", is32, (aux) => {
        const a = read(aux, VERDAUX_SIZE);
        nameOffsets.push(a.u32(0));
        names.push(str(a.u32(0), aux));
        return a.u32(4);
      });
    }
    out.push({
      vd_version: d.u16(0),
      vd_flags: d.u16(2),
      vd_ndx: d.u16(4),
      vd_hash: d.u32(8),
      name: names[0] ?? "",
      parents: names.slice(1),
      nameOffsets,
      offset: at,
    });
    return d.u32(16);
  });
  return out;
}

export function parseVersionRequirements(ctx: VersionReadContext, start: number, count: number): VersionRequirement[] {
  const { read, str, fileSize, is32 } = ctx;
  checkCount(count, VERNEED_SIZE, fileSize, "DT_VERNEEDNUM", start);
  const out: VersionRequirement[] = [];
  walkChain(start, count, "verneed", is32, (at) => {
    const d = read(at, VERNEED_SIZE);
    const vn_cnt = d.u16(2);
    checkCount(vn_cnt, VERNAUX_SIZE, fileSize, "vn_cnt", at);
    const versions: VersionRequirementAux[] = [];
    if (vn_cnt > 0) {
      walkChain(at + d.u32(8), vn_cnt, "vernaux", is32, (aux) => {
        const a = read(aux, VERNAUX_SIZE);
        versions.push({
          vna_hash: a.u32(0),
          vna_flags: a.u16(4),
          vna_other: a.u16(6),
          vna_name: a.u32(8),
          name: str(a.u32(8), aux),
          offset: aux,
        });
        return a.u32(12);
      });
    }
    out.push({ vn_version: d.u16(0), vn_file: d.u32(4), vn_next: d.u32(12), file: str(d.u32(4), at), versions, offset: at });
    return d.u32(12);
  });
  return out;
}

/** How a symbol's version index resolved. */
export interface SymbolVersion {
  readonly name: string;
  /** The versym hidden bit: `name@V` rather than `name@@V` for definitions. */
  readonly hidden: boolean;
  readonly index: number;
  /** The library the version is required from (verneed), or null for a version this object defines. */
  readonly library: string | null;
}

/**
 * Resolves one versym value the way the linker and ld.so read it: definitions look in
 * verdef first (the base version means "unversioned"), then in verneed (copy-relocated
 * objects in executables are defined yet carry a verneed version); references look
 * only in verneed.
 */
export function resolveVersion(
  versym: number,
  defined: boolean,
  defsByIndex: ReadonlyMap<number, VersionDefinition>,
  needsByIndex: ReadonlyMap<number, { aux: VersionRequirementAux; file: string }>,
): SymbolVersion | null {
  const index = versym & VERSYM_VERSION;
  const hidden = (versym & VERSYM_HIDDEN) !== 0;
  if (index === VER_NDX_LOCAL || index === VER_NDX_GLOBAL) return null;
  if (defined) {
    const def = defsByIndex.get(index);
    if (def) {
      if ((def.vd_flags & VER_FLG_BASE) !== 0) return null;
      return { name: def.name, hidden, index, library: null };
    }
  }
  const need = needsByIndex.get(index);
  if (need) return { name: need.aux.name, hidden, index, library: need.file };
  return null;
}
