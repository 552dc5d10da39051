import { compileGlobs } from "../glob.js";
import { machineName, osabiName, STV_PROTECTED } from "../elf/index.js";
import { normalizedAlignment } from "./hash.js";
import { bindInObject, type BindingDef } from "./binding.js";
import { symbolId, symbolKey, type AbiManifest, type AbiSymbol } from "./manifest.js";

export type AbiChangeKind =
  | "soname-changed"
  | "target-changed"
  | "base-version-changed"
  | "version-added"
  | "version-removed"
  | "symbol-added"
  | "symbol-removed"
  | "default-version-changed"
  | "symbol-version-changed"
  | "type-changed"
  | "binding-changed"
  | "visibility-changed"
  | "other-changed"
  | "size-changed"
  | "alignment-raised"
  | "alignment-lowered"
  | "became-writable"
  | "became-read-only"
  | "alias-added"
  | "alias-removed";

/**
 * One difference between OLD and NEW, judged by what an existing binary linked against OLD
 * experiences with NEW. `subject` is the symbol (`name@version`, `name@@version`), version
 * or field concerned.
 */
export interface AbiChange {
  kind: AbiChangeKind;
  subject: string;
  old: string | number | null;
  new: string | number | null;
  compatible: boolean;
}

export interface DiffOptions {
  /** Globs over symbol names (or `name@version`): such symbols are left out on both sides. */
  ignoreSymbols?: string[];
  /** Globs over version names (e.g. `GLIBC_PRIVATE`): such versions and their symbols are left out. */
  ignoreVersions?: string[];
}

/** abidiff-compatible exit bits. */
export const DIFF_EQUAL = 0;
export const DIFF_ERROR = 1;
export const DIFF_USAGE = 2;
export const DIFF_CHANGED = 4;
export const DIFF_INCOMPATIBLE = 8;

/** The exit status for a list of changes: 0 none, 4 all compatible, 12 any incompatible. */
export function diffExitStatus(changes: readonly AbiChange[]): number {
  if (changes.length === 0) return DIFF_EQUAL;
  return changes.some((c) => !c.compatible) ? DIFF_CHANGED | DIFF_INCOMPATIBLE : DIFF_CHANGED;
}

function filterManifest(m: AbiManifest, options: DiffOptions): AbiManifest {
  const ignoreSym = compileGlobs(options.ignoreSymbols ?? []);
  const ignoreVer = compileGlobs(options.ignoreVersions ?? []);
  if (!ignoreSym && !ignoreVer) return m;
  return {
    ...m,
    versions: m.versions.filter((v) => !ignoreVer?.(v)),
    symbols: m.symbols.filter(
      (s) =>
        !(s.version !== null && ignoreVer?.(s.version)) &&
        !ignoreSym?.(s.name) &&
        !(s.version !== null && ignoreSym?.(symbolId(s))),
    ),
  };
}

const vis = (other: number) => ["DEFAULT", "INTERNAL", "HIDDEN", "PROTECTED"][other & 3]!;

/** The key of `s`'s alias group: the first member's id (which carries no alias itself). */
const groupKey = (s: AbiSymbol) => s.data?.alias ?? symbolId(s);

/** Each data symbol's alias group of `m`: the ids of the names sharing its address, itself included. Built once, in one pass. */
function aliasGroups(m: AbiManifest): (s: AbiSymbol) => Set<string> {
  const groups = new Map<string, Set<string>>();
  for (const x of m.symbols) {
    if (x.data === undefined) continue;
    const key = groupKey(x);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = new Set()));
    g.add(symbolId(x));
  }
  return (s) => groups.get(groupKey(s)) ?? new Set();
}

/** A manifest's symbol as ld.so's lookup sees it: the version index follows from `firstVersion`. */
interface BoundSymbol extends BindingDef {
  symbol: AbiSymbol;
}

function definitionsByName(m: AbiManifest): Map<string, BoundSymbol[]> {
  const byName = new Map<string, BoundSymbol[]>();
  for (const s of m.symbols) {
    const index = s.version === null ? 1 : s.version === m.firstVersion ? 2 : 3;
    const d: BoundSymbol = { version: s.version, index, hidden: s.version !== null && !s.default, symbol: s };
    const list = byName.get(s.name);
    if (list) list.push(d);
    else byName.set(s.name, [d]);
  }
  return byName;
}

/**
 * For every symbol of OLD, the symbol of NEW that a binary's reference to it binds to, by
 * glibc's rules (bindInObject), or null when it no longer binds. A binary linked against
 * OLD refers to `name@version` for a versioned symbol (a hidden `name@V` is still referred
 * to by binaries linked when it was the default) and to `name` for an unversioned one.
 * A NEW without version definitions is read as having a version table: a versioned
 * reference then binds by name, and the verdict comes from the versions removed.
 */
export function bindOldReferences(oldM: AbiManifest, newM: AbiManifest): Map<AbiSymbol, AbiSymbol | null> {
  const defs = definitionsByName(newM);
  const out = new Map<AbiSymbol, AbiSymbol | null>();
  for (const s of oldM.symbols) {
    const b = bindInObject(defs.get(s.name) ?? [], { version: s.version }, { hasVersym: true, isVersionSource: true });
    out.set(s, b.kind === "bound" ? b.def.symbol : null);
  }
  return out;
}

/** How many changes of the unfiltered diff the ignore options left out of `kept` (diffManifests' result). */
export function ignoredChanges(oldM: AbiManifest, newM: AbiManifest, options: DiffOptions, kept: readonly AbiChange[]): number {
  if (!options.ignoreSymbols?.length && !options.ignoreVersions?.length) return 0;
  const key = (c: AbiChange) => `${c.kind}\0${c.subject}`;
  const keptKeys = new Set(kept.map(key));
  return diffManifests(oldM, newM).filter((c) => !keptKeys.has(key(c))).length;
}

/** Every ELF-level change from OLD to NEW, classified (see DESIGN.md, "ABI diff classification"). */
export function diffManifests(oldM: AbiManifest, newM: AbiManifest, options: DiffOptions = {}): AbiChange[] {
  const a = filterManifest(oldM, options);
  const b = filterManifest(newM, options);
  const out: AbiChange[] = [];
  const add = (kind: AbiChangeKind, subject: string, o: AbiChange["old"], n: AbiChange["new"], compatible: boolean) =>
    out.push({ kind, subject, old: o, new: n, compatible });

  if (a.soname !== b.soname) add("soname-changed", "SONAME", a.soname, b.soname, false);
  if (a.class !== b.class) add("target-changed", "class", a.class, b.class, false);
  if (a.data !== b.data) add("target-changed", "data", a.data, b.data, false);
  if (a.e_machine !== b.e_machine) {
    add("target-changed", "machine", String(machineName(a.e_machine, a.class)), String(machineName(b.e_machine, b.class)), false);
  }
  // The linker sets OS/ABI GNU merely because IFUNC or GNU_UNIQUE symbols are present.
  const osabi = (v: number) => (v === 3 ? 0 : v);
  if (osabi(a.ei_osabi) !== osabi(b.ei_osabi)) add("target-changed", "osabi", osabiName(a.ei_osabi), osabiName(b.ei_osabi), false);
  if (a.e_flags !== b.e_flags) {
    add("target-changed", "e_flags", `0x${a.e_flags.toString(16)}`, `0x${b.e_flags.toString(16)}`, false);
  }
  // Consumers never record the base version, so renaming it breaks no one.
  if (a.baseVersion !== b.baseVersion) add("base-version-changed", "base version", a.baseVersion, b.baseVersion, true);

  const newVersions = new Set(b.versions);
  const oldVersions = new Set(a.versions);
  for (const v of a.versions) if (!newVersions.has(v)) add("version-removed", v, v, null, false);
  for (const v of b.versions) if (!oldVersions.has(v)) add("version-added", v, null, v, true);

  const bound = bindOldReferences(a, b);
  const boundId = new Map([...bound].map(([s, n]) => [symbolId(s), n === null ? null : symbolId(n)]));
  const oldGroup = aliasGroups(a);
  const newGroup = aliasGroups(b);
  const reached = new Set<AbiSymbol>();
  for (const s of a.symbols) {
    const n = bound.get(s) ?? null;
    if (!n) {
      add("symbol-removed", symbolKey(s), symbolKey(s), null, false);
      continue;
    }
    reached.add(n);
    const id = symbolKey(n);
    if (symbolId(s) !== symbolId(n)) {
      // `foo` → `foo@@V1` (a version script added), `foo@V1` → `foo` (kept outside the script), …: old references still bind.
      add("symbol-version-changed", symbolId(s), symbolKey(s), symbolKey(n), true);
    } else if (s.default !== n.default) {
      // `foo@@V1` → `foo@V1` (a newer default added beside it) or the reverse: old references still bind.
      add("default-version-changed", symbolId(s), symbolKey(s), symbolKey(n), true);
    }
    if (s.type !== n.type) add("type-changed", id, s.type, n.type, false);
    if (s.bind !== n.bind) {
      const weakness = (s.bind === "GLOBAL" && n.bind === "WEAK") || (s.bind === "WEAK" && n.bind === "GLOBAL");
      add("binding-changed", id, s.bind, n.bind, weakness);
    }
    if ((s.other & 3) !== (n.other & 3)) {
      add("visibility-changed", id, vis(s.other), vis(n.other), (n.other & 3) !== STV_PROTECTED);
    }
    if ((s.other & ~3) !== (n.other & ~3)) {
      add("other-changed", id, `0x${s.other.toString(16)}`, `0x${n.other.toString(16)}`, false);
    }
    if (s.data && n.data) {
      if (s.data.size !== n.data.size) add("size-changed", id, s.data.size, n.data.size, false);
      const oa = normalizedAlignment(s.data.size, s.data.align);
      const na = normalizedAlignment(n.data.size, n.data.align);
      if (na > oa) add("alignment-raised", id, oa, na, false);
      else if (na < oa) add("alignment-lowered", id, oa, na, true);
      if (s.data.readonly && !n.data.readonly) add("became-writable", id, "readonly", "writable", false);
      if (!s.data.readonly && n.data.readonly) add("became-read-only", id, "writable", "readonly", true);
      // The old group, each name as its references now bind.
      const og = new Set([...oldGroup(s)].map((x) => boundId.get(x) ?? `${x} (gone)`));
      const ng = newGroup(n);
      const lost = [...og].filter((x) => !ng.has(x));
      const gained = [...ng].filter((x) => !og.has(x));
      if (lost.length > 0) add("alias-removed", id, [...og].sort().join(" "), [...ng].sort().join(" "), false);
      else if (gained.length > 0) add("alias-added", id, [...og].sort().join(" "), [...ng].sort().join(" "), true);
    }
  }
  const oldIds = new Set(a.symbols.map(symbolId));
  for (const n of b.symbols) {
    if (!reached.has(n) && !oldIds.has(symbolId(n))) add("symbol-added", symbolKey(n), null, symbolKey(n), true);
  }
  return out;
}
