import { compileGlobs } from "../glob.js";
import { bindInObject, type BindingRef } from "./binding.js";
import type { CompatObject, CopyRef, ExportDef, ImportRef } from "./compat-object.js";
import { ALIGNMENT_NOISE } from "./hash.js";

export { compatObject, type CompatObject, type CopyRef, type ExportDef, type ImportRef } from "./compat-object.js";

export type CompatProblemKind =
  | "library-not-found"
  | "version-missing"
  | "no-version-information"
  | "symbol-missing"
  | "loader-assertion"
  | "type-mismatch"
  | "copy-missing"
  | "copy-grown"
  | "copy-more-aligned";

export interface CompatProblem {
  kind: CompatProblemKind;
  /** The symbol (`name@version`), version or library concerned. */
  subject: string;
  /** The object that needs it: the binary itself or a library it loads (its path). */
  object: string;
  /** The library that should provide it or that defines it, when there is one. */
  library: string | null;
  detail: string;
  /** Warnings are what ld.so tolerates: weak references, weak versions, missing version tables. */
  severity: "error" | "warning";
}

export interface CompatReport {
  path: string;
  /** Objects in ld.so's load order (the binary first), as found. */
  loaded: { name: string; path: string }[];
  problems: CompatProblem[];
  /** Problems left out by --ignore-symbol / --ignore-version. */
  ignored: number;
  /** Said when the check cannot be what ld.so does (musl ignores symbol versions). */
  notes: string[];
  ok: boolean;
}

export interface CompatOptions {
  /** musl's loader: symbols by name only, hidden versions skipped, no version checks. */
  musl?: boolean;
  /** Globs over symbol names or `name@version`: problems about them are not reported. */
  ignoreSymbols?: string[];
  /** Globs over version names: problems about those versions and their symbols are not reported. */
  ignoreVersions?: string[];
  /** Also report the weak references every gcc-built object leaves unresolved (`__gmon_start__`, `_ITM_*`). */
  verbose?: boolean;
}

/**
 * Weak references the toolchain puts in every object (gcc's crt files, libgcc), normally
 * unresolved: profiling and transactional memory hooks.
 */
const TOOLCHAIN_WEAK = new Set(["__gmon_start__", "_ITM_deregisterTMCloneTable", "_ITM_registerTMCloneTable", "_Jv_RegisterClasses"]);

/** What a lookup through the scope found. */
export type LookupResult =
  | { kind: "found"; object: CompatObject; def: ExportDef }
  | { kind: "missing" }
  | { kind: "loader-assertion"; object: CompatObject };

/** The object `file` (a .gnu.version_r or NEEDED name) denotes: by SONAME, else by file name. */
export function namesObject(o: CompatObject, file: string): boolean {
  return o.soname === file || o.path === file || o.path.endsWith(`/${file}`);
}

/**
 * ld.so's lookup of `ref` through `scope` (the global scope: the binary, then what it loads
 * breadth first), each object judged by bindInObject. A copy relocation's lookup passes
 * over the executable itself (`copy`).
 */
export function lookup(
  scope: readonly CompatObject[],
  ref: ImportRef | CopyRef,
  options: { copy?: boolean; musl?: boolean } = {},
): LookupResult {
  const binding: BindingRef = { version: options.musl ? null : ref.version };
  for (let i = options.copy ? 1 : 0; i < scope.length; i++) {
    const o = scope[i]!;
    const defs = o.exports.get(ref.name);
    if (!defs) continue;
    if (options.musl) {
      // musl takes the first definition by name that is not a hidden `name@V`.
      const def = defs.find((d) => !d.hidden);
      if (def) return { kind: "found", object: o, def };
      continue;
    }
    const isVersionSource = ref.library !== null && namesObject(o, ref.library);
    const b = bindInObject(defs, binding, { hasVersym: o.hasVersym, isVersionSource });
    if (b.kind === "bound") return { kind: "found", object: o, def: b.def };
    if (b.kind === "loader-assertion") return { kind: "loader-assertion", object: o };
  }
  return { kind: "missing" };
}

const isTls = (t: string) => t === "TLS";
const funcLike = (t: string) => (t === "GNU_IFUNC" ? "FUNC" : t);
const nameOf = (o: CompatObject) => o.soname ?? o.path;
const key = (name: string, version: string | null) => (version ? `${name}@${version}` : name);

/** The version requirements of `o` against the loaded objects, as ld.so's _dl_check_map_versions. */
function checkVersions(o: CompatObject, scope: readonly CompatObject[], report: (p: Omit<CompatProblem, "object">) => void): void {
  for (const req of o.requirements) {
    const target = scope.find((x) => x !== o && namesObject(x, req.file));
    if (!target) continue; // reported as library-not-found when it is NEEDED
    if (target.versions === null) {
      report({
        kind: "no-version-information",
        subject: req.file,
        library: nameOf(target),
        detail: `${target.path} has no version information, but versions ${req.versions.map((v) => v.name).join(", ")} are required from it (ld.so warns on every start)`,
        severity: "warning",
      });
      continue;
    }
    for (const v of req.versions) {
      if (target.versions.has(v.name)) continue;
      report({
        kind: "version-missing",
        subject: v.name,
        library: req.file,
        detail: `${target.path} does not define version ${v.name}`,
        severity: v.weak ? "warning" : "error",
      });
    }
  }
}

function checkImports(o: CompatObject, scope: readonly CompatObject[], musl: boolean, report: (p: Omit<CompatProblem, "object">) => void): void {
  for (const ref of o.imports) {
    const found = lookup(scope, ref, { musl });
    const subject = key(ref.name, ref.version);
    if (found.kind === "loader-assertion") {
      report({
        kind: "loader-assertion",
        subject,
        library: nameOf(found.object),
        detail: `${found.object.path} has no version tables at all, and ld.so stops with an assertion ("Inconsistency detected by ld.so") when a versioned reference is looked up in it`,
        severity: "error",
      });
      continue;
    }
    if (found.kind === "missing") {
      report({
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
      report({
        kind: "type-mismatch",
        subject,
        library: nameOf(found.object),
        detail: `imported as ${ref.type}, defined as ${found.def.type} in ${found.object.path}`,
        severity: "error",
      });
    }
  }
}

function checkCopies(o: CompatObject, scope: readonly CompatObject[], musl: boolean, report: (p: Omit<CompatProblem, "object">) => void): void {
  for (const c of o.copies) {
    const found = lookup(scope, c, { copy: true, musl });
    const subject = key(c.name, c.version);
    if (found.kind !== "found") {
      report({
        kind: "copy-missing",
        subject,
        library: c.library,
        detail: `${o.path} holds a copy of ${subject}, which no loaded library defines`,
        severity: "error",
      });
      continue;
    }
    // ld.so copies min(old, new) bytes: a grown object is truncated in the copy.
    if (found.def.size > c.size) {
      report({
        kind: "copy-grown",
        subject,
        library: nameOf(found.object),
        detail: `the copy holds ${c.size} bytes, ${found.object.path} now defines ${found.def.size} (ld.so: "has different size", the rest is cut off)`,
        severity: "error",
      });
    }
    // Alignment up to 32 bytes is indistinguishable from where the object happened to land
    // (a vtable observed 32-aligned needs 8); only an explicit over-alignment is a requirement.
    const need = found.def.align > ALIGNMENT_NOISE ? found.def.align : 0;
    if (need > c.align) {
      report({
        kind: "copy-more-aligned",
        subject,
        library: nameOf(found.object),
        detail: `the copy is ${c.align}-aligned, ${found.object.path} now needs ${need}`,
        severity: "error",
      });
    }
  }
}

/** A filter over problems for --ignore-symbol / --ignore-version, or null when nothing is ignored. */
function ignoreFilter(options: CompatOptions): ((p: CompatProblem) => boolean) | null {
  const sym = compileGlobs(options.ignoreSymbols ?? []);
  const ver = compileGlobs(options.ignoreVersions ?? []);
  if (!sym && !ver) return null;
  return (p) => {
    if (p.kind === "library-not-found" || p.kind === "no-version-information") return false;
    if (p.kind === "version-missing") return ver?.(p.subject) ?? false;
    const at = p.subject.indexOf("@");
    const name = at < 0 ? p.subject : p.subject.slice(0, at);
    const version = at < 0 ? null : p.subject.slice(at + 1);
    return (sym?.(name) ?? false) || (version !== null && ((sym?.(p.subject) ?? false) || (ver?.(version) ?? false)));
  };
}

/**
 * Checks the objects ld.so would load for a binary (`scope`, in load order, the binary
 * first), without running anything: for every object, its version requirements, its
 * imports with their versions along ld.so's lookup order, their types, and its
 * copy-relocated data. Each problem names the object that needs the symbol.
 */
export function checkCompat(
  scope: readonly CompatObject[],
  missingLibraries: readonly { name: string; neededBy: string; searched: string }[],
  options: CompatOptions = {},
): CompatReport {
  const binary = scope[0]!;
  const musl = options.musl === true;
  const notes: string[] = [];
  if (musl) notes.push("musl's loader ignores symbol versions: symbols were checked by name only");
  const problems: CompatProblem[] = [];
  for (const lib of missingLibraries) {
    problems.push({
      kind: "library-not-found",
      subject: lib.name,
      object: lib.neededBy,
      library: lib.name,
      detail: `NEEDED ${lib.name} was not found: ${lib.searched}`,
      severity: "error",
    });
  }
  for (const o of scope) {
    const report = (p: Omit<CompatProblem, "object">) => {
      if (!options.verbose && p.kind === "symbol-missing" && p.severity === "warning" && TOOLCHAIN_WEAK.has(p.subject)) return;
      problems.push({ ...p, object: o.path });
    };
    if (!musl) checkVersions(o, scope, report);
    checkImports(o, scope, musl, report);
    checkCopies(o, scope, musl, report);
  }
  const ignore = ignoreFilter(options);
  const kept = ignore ? problems.filter((p) => !ignore(p)) : problems;
  return {
    path: binary.path,
    loaded: scope.map((o) => ({ name: nameOf(o), path: o.path })),
    problems: kept,
    ignored: problems.length - kept.length,
    notes,
    ok: !kept.some((p) => p.severity === "error"),
  };
}
