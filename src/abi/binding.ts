// Which definition ld.so binds a reference to, within one object: glibc's check_match and
// do_lookup_x (elf/dl-lookup.c) on ABI facts alone, so that `diff` (over manifests),
// `compat` and `relink` (over ELF files) judge alike. Checked against ld.so itself by
// test/abi/binding-ldso.test.ts, which runs programs with the library replaced.
//
// The version index of a definition (its .gnu.version entry without the hidden bit): 0 or 1
// is "global" (unversioned, or the base version), 2 the first version the object defines
// after its base, 3 and up the later ones. The hidden bit marks `name@V` (not the default
// `name@@V`).

/** One definition of a name in an object, as the lookup sees it. */
export interface BindingDef {
  /** The version name, or null for an unversioned definition (index 0 or 1). */
  version: string | null;
  /** The .gnu.version index without the hidden bit (≤ 1 global; 2 the first version; 3 and up). */
  index: number;
  /** `name@version` rather than `name@@version`. */
  hidden: boolean;
}

/** A reference: the version it asks for (from .gnu.version_r), or null for an unversioned one. */
export interface BindingRef {
  version: string | null;
}

/** What an object's version tables say to the lookup. */
export interface BindingObject {
  /** The object has a .gnu.version table (DT_VERSYM), whether or not it defines versions. */
  hasVersym: boolean;
  /** The object is the one the reference's version is required from (its .gnu.version_r file). */
  isVersionSource: boolean;
}

/** How a reference met an object. */
export type Binding<D extends BindingDef> =
  | { kind: "bound"; def: D }
  | { kind: "none" }
  /**
   * A versioned reference looked up in the very library it requires the version from, and
   * that library has no .gnu.version table at all: ld.so stops on an assertion in
   * check_match ("Inconsistency detected by ld.so").
   */
  | { kind: "loader-assertion" };

/**
 * The definition of one object that ld.so binds `ref` to, among `defs` (that object's
 * definitions of the name), or none:
 * - in an object without a .gnu.version table, any definition; but a versioned reference
 *   into the library it names stops ld.so (see "loader-assertion");
 * - a versioned reference takes the definition of that version, hidden or not, or a
 *   non-hidden global one (index ≤ 1: a library that kept the name outside its version
 *   script, or has no version definitions but a .gnu.version table);
 * - an unversioned reference takes a global definition or one of the first version
 *   (index 2, hidden or not: the oldest interface, for binaries older than the versions),
 *   else the one non-hidden definition of a later version, if there is exactly one.
 */
export function bindInObject<D extends BindingDef>(defs: readonly D[], ref: BindingRef, object: BindingObject): Binding<D> {
  if (defs.length === 0) return { kind: "none" };
  if (!object.hasVersym) {
    return ref.version !== null && object.isVersionSource ? { kind: "loader-assertion" } : { kind: "bound", def: defs[0]! };
  }
  if (ref.version !== null) {
    for (const d of defs) {
      if (d.version === ref.version) return { kind: "bound", def: d };
      // The global index has no version name to compare: it matches unless hidden.
      if (d.index <= 1 && !d.hidden) return { kind: "bound", def: d };
    }
    return { kind: "none" };
  }
  let later = 0;
  let only: D | null = null;
  for (const d of defs) {
    if (d.index <= 2) return { kind: "bound", def: d };
    if (!d.hidden && later++ === 0) only = d;
  }
  return later === 1 ? { kind: "bound", def: only! } : { kind: "none" };
}
