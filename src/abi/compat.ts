import {
  VER_FLG_BASE,
  VER_FLG_WEAK,
  symbolSize,
  type ElfFile,
} from "../elf/index.js";
import { ALIGNMENT_NOISE } from "./hash.js";
import { DataLayout, isExported } from "./manifest.js";

/** What the static linker check needs of one loaded object. */
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
  /** Exported definitions by name. */
  exports: Map<string, ExportDef[]>;
  /** `.gnu.version_r`: library file name → required version names (weak ones marked). */
  requirements: { file: string; versions: { name: string; weak: boolean }[] }[];
  imports: ImportRef[];
  /** Data this executable holds copies of (copy relocations), as linked. */
  copies: CopyRef[];
}

export interface ExportDef {
  /** Version name, or null for an unversioned definition (or the base version). */
  version: string | null;
  hidden: boolean;
  type: string;
  size: number;
  align: number;
}

export interface ImportRef {
  name: string;
  version: string | null;
  /** The library .gnu.version_r names for the version. */
  library: string | null;
  weak: boolean;
  type: string;
}

export interface CopyRef {
  name: string;
  version: string | null;
  library: string | null;
  size: number;
  align: number;
}

const isTls = (t: string) => t === "TLS";
const funcLike = (t: string) => (t === "GNU_IFUNC" ? "FUNC" : t);

/** Reads what `compat` needs from an ELF file. */
export function compatObject(elf: ElfFile, path: string): CompatObject {
  const dyn = elf.dynamic;
  const defs = elf.versionDefinitions;
  const versions = defs.length > 0 ? new Set(defs.filter((d) => (d.vd_flags & VER_FLG_BASE) === 0).map((d) => d.name)) : null;
  const exports = new Map<string, ExportDef[]>();
  const imports: ImportRef[] = [];
  const copies: CopyRef[] = [];
  const layout = new DataLayout(elf);
  for (const s of elf.dynamicSymbols) {
    if (s.name === "") continue;
    if (!s.defined) {
      imports.push({
        name: s.name,
        version: s.version?.name ?? null,
        library: s.version?.library ?? null,
        weak: s.bind === "WEAK",
        type: s.type,
      });
      continue;
    }
    if (!isExported(s)) continue;
    const size = symbolSize(s.st_size);
    const align = layout.alignment(s, layout.address(s));
    // A definition carrying a version from .gnu.version_r is a copy of a library's data.
    if (s.version?.library) copies.push({ name: s.name, version: s.version.name, library: s.version.library, size, align });
    const def: ExportDef = {
      version: s.version && s.version.library === null ? s.version.name : null,
      hidden: s.version?.hidden ?? false,
      type: s.type,
      size,
      align,
    };
    const list = exports.get(s.name);
    if (list) list.push(def);
    else exports.set(s.name, [def]);
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
    exports,
    requirements: elf.versionRequirements.map((r) => ({
      file: r.file,
      versions: r.versions.map((v) => ({ name: v.name, weak: (v.vna_flags & VER_FLG_WEAK) !== 0 })),
    })),
    imports,
    copies,
  };
}

export type CompatProblemKind =
  | "library-not-found"
  | "version-missing"
  | "symbol-missing"
  | "type-mismatch"
  | "copy-grown"
  | "copy-more-aligned";

export interface CompatProblem {
  kind: CompatProblemKind;
  /** The symbol (`name@version`), version or library concerned. */
  subject: string;
  /** Library involved, when there is one. */
  library: string | null;
  detail: string;
  /** Weak references and weak version requirements only warn: ld.so tolerates them. */
  severity: "error" | "warning";
}

export interface CompatReport {
  binary: string;
  /** Objects in ld.so's load order (the binary first), as found. */
  loaded: { name: string; path: string }[];
  problems: CompatProblem[];
  /** Said when the check cannot be what ld.so does (musl ignores symbol versions). */
  notes: string[];
  ok: boolean;
}

/**
 * ld.so's check_match for one definition: a versioned reference takes the definition of
 * that version (an unversioned one in a versioned object only if neither is hidden); an
 * unversioned reference takes a non-hidden definition.
 */
function matches(ref: ImportRef | CopyRef, def: ExportDef, ignoreVersions: boolean): boolean {
  if (ignoreVersions || ref.version === null) return !def.hidden || ignoreVersions;
  if (def.version === ref.version) return true;
  return def.version === null && !def.hidden;
}

/** The first object in `scope` (ld.so's global lookup order) that defines `ref`, if any. */
export function lookup(
  scope: readonly CompatObject[],
  ref: ImportRef | CopyRef,
  options: { skip?: CompatObject; ignoreVersions?: boolean } = {},
): { object: CompatObject; def: ExportDef } | null {
  for (const o of scope) {
    if (o === options.skip) continue;
    const defs = o.exports.get(ref.name);
    if (!defs) continue;
    // An object without versioning information satisfies any reference by name.
    const unversioned = o.versions === null;
    const def = defs.find((d) => matches(ref, d, options.ignoreVersions === true || unversioned));
    if (def) return { object: o, def };
  }
  return null;
}

function nameMatches(o: CompatObject, file: string): boolean {
  return o.soname === file || o.path.endsWith(`/${file}`);
}

/**
 * Checks one binary against the objects ld.so would load for it (`scope`, in load order,
 * the binary first), without running anything: every version requirement, every import,
 * types, and copy-relocated data.
 */
export function checkCompat(
  binary: CompatObject,
  scope: readonly CompatObject[],
  missingLibraries: readonly { subject: string; name: string; searched: string }[],
  options: { musl?: boolean } = {},
): CompatReport {
  const problems: CompatProblem[] = [];
  const notes: string[] = [];
  const musl = options.musl === true;
  if (musl) notes.push("musl's loader ignores symbol versions: symbols were checked by name only");
  for (const lib of missingLibraries) {
    problems.push({
      kind: "library-not-found",
      subject: lib.subject,
      library: lib.name,
      detail: `NEEDED ${lib.name} was not found: ${lib.searched}`,
      severity: "error",
    });
  }
  if (!musl) {
    for (const req of binary.requirements) {
      const o = scope.find((x) => x !== binary && nameMatches(x, req.file));
      if (!o) continue; // reported as library-not-found when it is NEEDED
      for (const v of req.versions) {
        if (o.versions?.has(v.name)) continue;
        problems.push({
          kind: "version-missing",
          subject: v.name,
          library: req.file,
          detail: `${o.path} does not define version ${v.name}`,
          severity: v.weak ? "warning" : "error",
        });
      }
    }
  }
  for (const ref of binary.imports) {
    const found = lookup(scope, ref, { skip: binary, ignoreVersions: musl });
    const subject = ref.version ? `${ref.name}@${ref.version}` : ref.name;
    if (!found) {
      problems.push({
        kind: "symbol-missing",
        subject,
        library: ref.library,
        detail: `no loaded object defines ${subject}${ref.library ? ` (expected from ${ref.library})` : ""}`,
        severity: ref.weak ? "warning" : "error",
      });
      continue;
    }
    const want = funcLike(ref.type);
    const got = funcLike(found.def.type);
    if (want !== "NOTYPE" && got !== "NOTYPE" && (want !== got || isTls(want) !== isTls(got))) {
      problems.push({
        kind: "type-mismatch",
        subject,
        library: found.object.soname,
        detail: `imported as ${ref.type}, defined as ${found.def.type} in ${found.object.path}`,
        severity: "error",
      });
    }
  }
  for (const c of binary.copies) {
    const found = lookup(scope, c, { skip: binary, ignoreVersions: musl });
    const subject = c.version ? `${c.name}@${c.version}` : c.name;
    if (!found) continue; // the copy itself satisfies references; a removed symbol shows in diff
    if (found.def.size > c.size) {
      problems.push({
        kind: "copy-grown",
        subject,
        library: found.object.soname,
        detail: `the executable holds ${c.size} bytes, ${found.object.path} now defines ${found.def.size}`,
        severity: "error",
      });
    }
    // Alignment up to 32 bytes is indistinguishable from where the object happened to land
    // (a vtable observed 32-aligned needs 8); only an explicit over-alignment is a requirement.
    const need = found.def.align > ALIGNMENT_NOISE ? found.def.align : 0;
    if (need > c.align) {
      problems.push({
        kind: "copy-more-aligned",
        subject,
        library: found.object.soname,
        detail: `the executable's copy is ${c.align}-aligned, ${found.object.path} now needs ${need}`,
        severity: "error",
      });
    }
  }
  return {
    binary: binary.path,
    loaded: scope.map((o) => ({ name: o.soname ?? o.path, path: o.path })),
    problems,
    notes,
    ok: !problems.some((p) => p.severity === "error"),
  };
}
