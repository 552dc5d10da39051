import {
  dynamicFlag1Names,
  dynamicFlagNames,
  machineName,
  osabiName,
  symbolReference,
  symbolSize,
  typeName,
  VER_FLG_BASE,
  type ElfFile,
  type SymbolReference,
} from "../elf/index.js";

/** The file-level facts shared by `inspect` and `scan` records. */
export interface ElfSummary {
  path: string;
  class: 32 | 64;
  endian: "little" | "big";
  /** Short machine name, or the e_machine number when unknown. */
  machine: string | number;
  /** EXEC, DYN, REL, CORE (or ET_0x… for others). */
  type: string;
  osabi: string;
  e_flags: number;
  interpreter: string | null;
  soname: string | null;
  needed: string[];
  rpath: string[];
  runpath: string[];
  /** DT_FLAGS and DT_FLAGS_1 bit names. */
  flags: string[];
  flags1: string[];
  /** Oddities that did not stop the reading (unusable section headers, an empty PT_INTERP…). */
  warnings: string[];
}

export interface DefinedSymbol {
  name: string;
  version: string | null;
  /** True for `name@@version`: the version a new link binds to. */
  default: boolean;
  type: string;
  bind: string;
  visibility: string;
  size: number;
}

/** An undefined symbol: what it asks for (symbolReference). */
export type UndefinedSymbol = SymbolReference;

export interface VersionsSummary {
  defined: { name: string; base: boolean; parents: string[] }[];
  required: { library: string; versions: string[] }[];
}

export interface ElfInspection extends ElfSummary {
  versions: VersionsSummary;
  defined: DefinedSymbol[];
  undefined: UndefinedSymbol[];
}

export function summarize(elf: ElfFile, path: string): ElfSummary {
  const h = elf.header;
  const dyn = elf.dynamic;
  return {
    path,
    class: h.class,
    endian: h.little ? "little" : "big",
    machine: machineName(h.e_machine, h.class),
    type: typeName(h.e_type),
    osabi: osabiName(h.ei_osabi),
    e_flags: h.e_flags,
    interpreter: elf.interpreter,
    soname: dyn?.soname ?? null,
    needed: dyn?.needed ?? [],
    rpath: dyn?.rpath ?? [],
    runpath: dyn?.runpath ?? [],
    flags: dynamicFlagNames(dyn?.flags ?? 0),
    flags1: dynamicFlag1Names(dyn?.flags1 ?? 0),
    warnings: elf.warnings,
  };
}


export function inspectElf(elf: ElfFile, path: string): ElfInspection {
  const defined: DefinedSymbol[] = [];
  const undefined_: UndefinedSymbol[] = [];
  for (const s of elf.dynamicSymbols) {
    if (s.defined) {
      if (s.bind === "LOCAL") continue;
      defined.push({
        name: s.name,
        version: s.version?.name ?? null,
        default: s.version !== null && s.version.library === null && !s.version.hidden,
        type: s.type,
        bind: s.bind,
        visibility: s.visibility,
        size: symbolSize(s.st_size),
      });
    } else {
      undefined_.push(symbolReference(s));
    }
  }
  return {
    ...summarize(elf, path),
    versions: {
      defined: elf.versionDefinitions.map((d) => ({
        name: d.name,
        base: (d.vd_flags & VER_FLG_BASE) !== 0,
        parents: d.parents,
      })),
      required: elf.versionRequirements.map((r) => ({ library: r.file, versions: r.versions.map((v) => v.name) })),
    },
    defined,
    undefined: undefined_,
  };
}
