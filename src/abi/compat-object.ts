import { DT_VERSYM, VER_FLG_BASE, VER_FLG_WEAK, copyRelocatedSymbols, symbolReference, symbolSize, type ElfFile, type SymbolReference } from "../elf/index.js";
import type { BindingDef } from "./binding.js";
import { DataLayout, isExported } from "./manifest.js";

/** What `compat` needs of one object ld.so would load. */
export interface CompatObject {
  path: string;
  soname: string | null;
  class: 32 | 64;
  e_machine: number;
  interpreter: string | null;
  needed: string[];
  rpath: string[];
  runpath: string[];
  /** Version names this object defines (verdef), base version excluded; null without verdef. */
  versions: Set<string> | null;
  /** The object has a .gnu.version table (DT_VERSYM): ld.so then reads versions from it. */
  hasVersym: boolean;
  /** Exported definitions by name, in symbol table order. */
  exports: Map<string, ExportDef[]>;
  /** `.gnu.version_r`: library file name → required version names (weak ones marked). */
  requirements: { file: string; versions: { name: string; weak: boolean }[] }[];
  imports: ImportRef[];
  /** Data this object holds copies of (its copy relocations), as linked. */
  copies: CopyRef[];
}

/** A definition as the lookup sees it (BindingDef), and what the checks compare. */
export interface ExportDef extends BindingDef {
  type: string;
  size: number;
  align: number;
}

/** An import: an undefined symbol as it asks to be bound. */
export type ImportRef = SymbolReference;

export interface CopyRef {
  name: string;
  version: string | null;
  library: string | null;
  size: number;
  align: number;
  type: string;
}

/** Reads what `compat` needs from an ELF file. */
export function compatObject(elf: ElfFile, path: string): CompatObject {
  const dyn = elf.dynamic;
  const defs = elf.versionDefinitions;
  const versions = defs.length > 0 ? new Set(defs.filter((d) => (d.vd_flags & VER_FLG_BASE) === 0).map((d) => d.name)) : null;
  const exports = new Map<string, ExportDef[]>();
  const imports: ImportRef[] = [];
  const layout = new DataLayout(elf);
  const symbols = elf.dynamicSymbols;
  for (const s of symbols) {
    if (s.name === "" || s.index === 0) continue;
    if (!s.defined) {
      imports.push(symbolReference(s));
      continue;
    }
    if (!isExported(s)) continue;
    // A copy-relocated definition in an executable carries its .gnu.version_r version: other
    // objects' references to that version bind to it by name, as to any definition.
    const def: ExportDef = {
      version: s.version?.name ?? null,
      index: s.version?.index ?? 1,
      hidden: s.version?.hidden ?? false,
      type: s.type,
      size: symbolSize(s.st_size),
      align: s.type === "OBJECT" || s.type === "TLS" ? layout.alignment(s, layout.address(s)) : 0,
    };
    const list = exports.get(s.name);
    if (list) list.push(def);
    else exports.set(s.name, [def]);
  }
  const copies: CopyRef[] = [];
  const seen = new Set<number>();
  const count = elf.dynamicSymbolCount;
  for (const i of copyRelocatedSymbols(elf) ?? []) {
    if (i >= count || seen.has(i)) continue;
    const s = elf.dynamicSymbol(i);
    if (s.name === "") continue;
    seen.add(i);
    copies.push({
      name: s.name,
      version: s.version?.name ?? null,
      library: s.version?.library ?? null,
      size: symbolSize(s.st_size),
      align: layout.alignment(s, layout.address(s)),
      type: s.type,
    });
  }
  return {
    path,
    soname: dyn?.soname ?? null,
    class: elf.header.class,
    e_machine: elf.header.e_machine,
    interpreter: elf.interpreter,
    needed: dyn?.needed ?? [],
    rpath: dyn?.rpath ?? [],
    runpath: dyn?.runpath ?? [],
    versions,
    hasVersym: elf.dynamicValue(DT_VERSYM) !== undefined,
    exports,
    requirements: elf.versionRequirements.map((r) => ({
      file: r.file,
      versions: r.versions.map((v) => ({ name: v.name, weak: (v.vna_flags & VER_FLG_WEAK) !== 0 })),
    })),
    imports,
    copies,
  };
}
