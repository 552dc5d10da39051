// The stub's dynamic symbol table as a list, before any address is known: the null symbol,
// the link hints' imports (undefined, unhashed), then the exports in GNU hash bucket order,
// each with its version index. Version indexes: 1 the base, 2 the first version, then the
// other versions sorted; requirements (from the hints) after them.
import { symbolId, type AbiManifest, type AbiSymbol, type HintImport } from "../abi/manifest.js";
import { gnuHash, gnuHashOrder, gnuHashShape, type GnuHashShape } from "../elf/write/index.js";

export const VERSYM_HIDDEN = 0x8000;

/** One version definition (.gnu.version_d), in index order from 1. */
export interface VersionDef {
  name: string;
  index: number;
  base: boolean;
}

/** The version requirements of one file (.gnu.version_r). */
export interface VersionNeed {
  file: string;
  versions: { name: string; index: number }[];
}

export type StubSymbol =
  /** `size`: st_size of a FUNC or NOTYPE symbol, from the hints (else null); `ifunc` from the hints. */
  | { kind: "export"; symbol: AbiSymbol; versym: number; name: string; size: number | null; ifunc: boolean }
  | { kind: "import"; hint: HintImport; versym: number; name: string }
  /** GNU ld's marker of a version definition: an ABS symbol named after it. */
  | { kind: "marker"; versym: number; name: string };

export interface SymbolTable {
  /** Symbols from index 1 on. */
  symbols: StubSymbol[];
  /** First hashed index (after the null symbol and the imports). */
  shape: GnuHashShape;
  defs: VersionDef[];
  needs: VersionNeed[];
}

const utf8 = new TextEncoder();

export function symbolTable(m: AbiManifest, is64: boolean): SymbolTable {
  const defs: VersionDef[] = [];
  const index = new Map<string, number>();
  if (m.baseVersion !== null || m.versions.length > 0) {
    defs.push({ name: m.baseVersion ?? m.soname ?? "stub", index: 1, base: true });
    const hinted = m.hints?.versionOrder;
    const valid = hinted !== undefined && hinted.length === m.versions.length && (m.firstVersion === null || hinted[0] === m.firstVersion);
    const order = valid ? hinted : m.firstVersion !== null ? [m.firstVersion, ...m.versions.filter((v) => v !== m.firstVersion)] : [...m.versions];
    for (const v of order) {
      defs.push({ name: v, index: defs.length + 1, base: false });
      index.set(v, defs.length);
    }
  }
  // Requirements keep the hints' order of files and versions (sorted by symbol there).
  const needs: VersionNeed[] = [];
  const needIndex = new Map<string, number>();
  let next = Math.max(defs.length + 1, 2);
  const imports: StubSymbol[] = [];
  for (const h of m.hints?.imports ?? []) {
    const at = h.symbol.indexOf("@");
    const name = at < 0 ? h.symbol : h.symbol.slice(0, at);
    let versym = 1;
    if (at >= 0 && h.from !== undefined) {
      const version = h.symbol.slice(at + 1);
      const key = `${h.from}\0${version}`;
      let v = needIndex.get(key);
      if (v === undefined) {
        v = next++;
        needIndex.set(key, v);
        let need = needs.find((n) => n.file === h.from);
        if (!need) needs.push((need = { file: h.from, versions: [] }));
        need.versions.push({ name: version, index: v });
      }
      versym = v;
    }
    imports.push({ kind: "import", hint: h, versym, name });
  }
  const sizes = m.hints?.sizes;
  const ifuncs = new Set(m.hints?.ifuncs ?? []);
  let code = 0;
  const exports: StubSymbol[] = m.symbols.map((s) => {
    // A symbol of the base version is an unversioned one (index 1 is both).
    const v = s.version === null || s.version === m.baseVersion ? 1 : index.get(s.version)!;
    const at = s.data ? -1 : code++;
    const size = at < 0 ? null : (sizes?.[at] ?? null);
    return { kind: "export", symbol: s, versym: s.version !== null && !s.default && v > 1 ? v | VERSYM_HIDDEN : v, name: s.name, size, ifunc: ifuncs.has(at) };
  });
  const markers: StubSymbol[] = (m.hints?.versionOrder ?? []).map((v) => ({ kind: "marker", versym: index.get(v) ?? 1, name: v }));
  const given = m.hints?.order ? inGivenOrder(m.hints.order, [...exports, ...imports, ...markers], imports.length, is64) : null;
  if (given) return { ...given, defs, needs };
  const all = [...imports, ...exports];
  const shape = gnuHashShape(1 + imports.length, exports.length, is64);
  const names = [new Uint8Array(0), ...all.map((s) => utf8.encode(s.name))];
  const order = gnuHashOrder(names, shape);
  return { symbols: order.slice(1).map((i) => all[i - 1]!), shape, defs, needs };
}

/**
 * The library's own order (hint-order), when a GNU hash table can index it: the imports
 * first, then each bucket's symbols in one run. Null otherwise (a hand-edited order).
 */
function inGivenOrder(order: { buckets: number; indexes: number[] }, combined: StubSymbol[], imports: number, is64: boolean): Omit<SymbolTable, "defs" | "needs"> | null {
  const symbols = order.indexes.map((i) => combined[i]!);
  if (symbols.some((s) => s === undefined)) return null;
  if (symbols.slice(0, imports).some((s) => s.kind !== "import")) return null;
  const shape = { ...gnuHashShape(1 + imports, symbols.length - imports, is64), nbuckets: order.buckets };
  const seen = new Set<number>();
  let last = -1;
  for (const s of symbols.slice(imports)) {
    const b = gnuHashOf(s.name) % order.buckets;
    if (b !== last && seen.has(b)) return null;
    seen.add(b);
    last = b;
  }
  return { symbols, shape };
}

/**
 * gnuHash of a name's UTF-8 bytes. An ASCII name is hashed from its characters (the same
 * bytes) without encoding it: this check runs once per symbol of every stub.
 */
function gnuHashOf(name: string): number {
  let h = 5381;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0x7f) return gnuHash(utf8.encode(name));
    h = (Math.imul(h, 33) + c) >>> 0;
  }
  return h;
}

/** The id of an exported symbol, for data offsets. */
export const exportId = (s: StubSymbol): string | null => (s.kind === "export" ? symbolId(s.symbol) : null);
