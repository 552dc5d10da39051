import type { Decoder } from "./bytes.js";
import { MalformedError } from "./errors.js";
import { VERDAUX, VERDEF, VERNAUX, VERNEED } from "./structs.js";

export const VER_NDX_LOCAL = 0;
export const VER_NDX_GLOBAL = 1;
export const VERSYM_HIDDEN = 0x8000;
export const VERSYM_VERSION = 0x7fff;
export const VER_FLG_BASE = 0x1;
export const VER_FLG_WEAK = 0x2;

export const VERDEF_SIZE = VERDEF.size;
export const VERDAUX_SIZE = VERDAUX.size;
export const VERNEED_SIZE = VERNEED.size;
export const VERNAUX_SIZE = VERNAUX.size;

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
    const v = VERDEF.read(read(at, VERDEF.size), 0);
    checkCount(v.vd_cnt, VERDAUX.size, fileSize, "vd_cnt", at);
    const names: string[] = [];
    const nameOffsets: number[] = [];
    if (v.vd_cnt > 0) {
      walkChain(at + v.vd_aux, v.vd_cnt, "verdaux", is32, (aux) => {
        const a = read(aux, VERDAUX.size);
        const name = a.u32(VERDAUX.offset.vda_name);
        nameOffsets.push(name);
        names.push(str(name, aux));
        return a.u32(VERDAUX.offset.vda_next);
      });
    }
    out.push({
      vd_version: v.vd_version,
      vd_flags: v.vd_flags,
      vd_ndx: v.vd_ndx,
      vd_hash: v.vd_hash,
      name: names[0] ?? "",
      parents: names.slice(1),
      nameOffsets,
      offset: at,
    });
    return v.vd_next;
  });
  return out;
}

export function parseVersionRequirements(ctx: VersionReadContext, start: number, count: number): VersionRequirement[] {
  const { read, str, fileSize, is32 } = ctx;
  checkCount(count, VERNEED_SIZE, fileSize, "DT_VERNEEDNUM", start);
  const out: VersionRequirement[] = [];
  walkChain(start, count, "verneed", is32, (at) => {
    const n = VERNEED.read(read(at, VERNEED.size), 0);
    checkCount(n.vn_cnt, VERNAUX.size, fileSize, "vn_cnt", at);
    const versions: VersionRequirementAux[] = [];
    if (n.vn_cnt > 0) {
      walkChain(at + n.vn_aux, n.vn_cnt, "vernaux", is32, (aux) => {
        const a = read(aux, VERNAUX.size);
        const o = VERNAUX.offset;
        const vna_name = a.u32(o.vna_name);
        versions.push({
          vna_hash: a.u32(o.vna_hash),
          vna_flags: a.u16(o.vna_flags),
          vna_other: a.u16(o.vna_other),
          vna_name,
          name: str(vna_name, aux),
          offset: aux,
        });
        return a.u32(o.vna_next);
      });
    }
    out.push({ vn_version: n.vn_version, vn_file: n.vn_file, vn_next: n.vn_next, file: str(n.vn_file, at), versions, offset: at });
    return n.vn_next;
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
