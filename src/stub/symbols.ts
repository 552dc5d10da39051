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
  /** Their names' UTF-8 bytes and GNU hashes, by table index (index 0, the null symbol, empty). */
  names: Uint8Array[];
  hashes: Uint32Array;
  /** First hashed index (after the null symbol and the imports). */
  shape: GnuHashShape;
  defs: VersionDef[];
  needs: VersionNeed[];
}


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
    // A version is required from a NEEDED library (a file no NEEDED entry names would be a
    // requirement ld.so and eu-elflint reject): otherwise the import stays unversioned.
    if (at >= 0 && h.from !== undefined && (m.hints?.needed ?? []).includes(h.from)) {
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
  if (m.hints?.order) {
    const combined = [...exports, ...imports, ...markers];
    const encoded = encodeNames(combined);
    const given = inGivenOrder(m.hints.order, combined, encoded.hashes, imports.length, is64);
    if (given) return { ...given, ...permuted(encoded, m.hints.order.indexes), defs, needs };
  }
  const all = [...imports, ...exports];
  const shape = gnuHashShape(1 + imports.length, exports.length, is64);
  const encoded = encodeNames(all);
  const order = gnuHashOrder(encoded.names, shape).slice(1).map((i) => i - 1);
  return { symbols: order.map((i) => all[i]!), shape, ...permuted(encoded, order), defs, needs };
}

/** Encoded names (by index + 1) put in `order` (indexes into the encoded list from 0). */
function permuted(e: { names: Uint8Array[]; hashes: Uint32Array }, order: readonly number[]): { names: Uint8Array[]; hashes: Uint32Array } {
  const names: Uint8Array[] = [e.names[0]!];
  const hashes = new Uint32Array(order.length + 1);
  order.forEach((i, k) => {
    names.push(e.names[i + 1]!);
    hashes[k + 1] = e.hashes[i + 1]!;
  });
  return { names, hashes };
}

/** The names of `symbols` (table index i + 1) encoded once, into one buffer, and their GNU hashes. */
function encodeNames(symbols: readonly StubSymbol[]): { names: Uint8Array[]; hashes: Uint32Array } {
  let total = 0;
  for (const s of symbols) total += Buffer.byteLength(s.name);
  const all = Buffer.allocUnsafe(total);
  const names: Uint8Array[] = [new Uint8Array(0)];
  const hashes = new Uint32Array(symbols.length + 1);
  let at = 0;
  symbols.forEach((s, i) => {
    const n = all.write(s.name, at, "utf8");
    const bytes = all.subarray(at, at + n);
    names.push(bytes);
    hashes[i + 1] = gnuHash(bytes);
    at += n;
  });
  return { names, hashes };
}

/**
 * The library's own order (hint-order), when a GNU hash table can index it: the imports
 * first, then each bucket's symbols in one run. Null otherwise (a hand-edited order).
 */
function inGivenOrder(
  order: { buckets: number; indexes: number[] },
  combined: StubSymbol[],
  hashes: Uint32Array,
  imports: number,
  is64: boolean,
): Pick<SymbolTable, "symbols" | "shape"> | null {
  const symbols = order.indexes.map((i) => combined[i]!);
  if (symbols.some((s) => s === undefined)) return null;
  if (symbols.slice(0, imports).some((s) => s.kind !== "import")) return null;
  const shape = { ...gnuHashShape(1 + imports, symbols.length - imports, is64), nbuckets: order.buckets };
  const seen = new Set<number>();
  let last = -1;
  for (const i of order.indexes.slice(imports)) {
    const b = hashes[i + 1]! % order.buckets;
    if (b !== last && seen.has(b)) return null;
    seen.add(b);
    last = b;
  }
  return { symbols, shape };
}

/** The id of an exported symbol, for data offsets. */
export const exportId = (s: StubSymbol): string | null => (s.kind === "export" ? symbolId(s.symbol) : null);
