import { machineName } from "../elf/index.js";
/** One change to a file's loader-visible references. A patch applies a list of them, in order, in one rewrite. */
export type Edit =
  | { op: "set-interpreter"; path: string }
  /**
   * Sets the search path. The file's existing DT_RUNPATH or DT_RPATH keeps its kind (their
   * lookup semantics differ); `kind` is used only when the file has neither.
   */
  | { op: "set-search-path"; paths: string[]; kind: "runpath" | "rpath" }
  /** Appends a directory to the search path (DT_RUNPATH, or `kind`, when the file has none). */
  | { op: "add-runpath"; path: string; kind?: "runpath" | "rpath" }
  /** Removes DT_RPATH and DT_RUNPATH. */
  | { op: "remove-runpath" }
  /** Converts DT_RPATH to DT_RUNPATH or back: the only edit that changes the kind. */
  | { op: "convert-search-path"; to: "runpath" | "rpath" }
  /** Replaces a path prefix (whole path components) in the interpreter, search paths and NEEDED paths. */
  | { op: "replace-prefix"; from: string; to: string }
  /**
   * Moves what lies under `from` into an indirection table (`abilink table`) at `table`: into
   * its directory for the file's class/machine, `table/lib/GROUP` (tableGroup). A search-path
   * entry under `from` becomes that directory; the interpreter and NEEDED paths under it
   * become `table/lib/GROUP/NAME`, NAME being the table's entry for that file name
   * (`groups[GROUP][name]`) or the file name itself.
   */
  | { op: "replace-prefix-into"; from: string; table: string; groups: Record<string, Record<string, string>> }
  /** After the existing NEEDED entries, or before them with `first` (patchelf's place). */
  | { op: "add-needed"; name: string; first?: boolean }
  | { op: "remove-needed"; name: string }
  | { op: "replace-needed"; from: string; to: string }
  | { op: "set-soname"; name: string }
  /** Sets bits in DT_FLAGS_1 (adding the entry when missing), e.g. DF_1_NODEFLIB. */
  | { op: "set-flags-1"; bits: number }
  /** Adds DT_DEBUG when missing. */
  | { op: "add-debug-tag" }
  /** Makes every dynamic symbol of this name unversioned (versym 1, VER_NDX_GLOBAL). */
  | { op: "clear-symbol-version"; name: string }
  /** Sets EI_OSABI. */
  | { op: "set-os-abi"; value: number }
  /** Sets or clears PF_X on PT_GNU_STACK. */
  | { op: "set-execstack"; executable: boolean }
  /** Renames dynamic symbols (definitions and references): pairs of old and new names. */
  | { op: "rename-symbols"; map: [string, string][] }
  /**
   * Adds an allocated SHT_NOTE section `section` holding `note` (whole note records), with a
   * PT_NOTE for it. A section of that name with the same bytes: nothing to do; with others: refused.
   */
  | { op: "add-note"; section: string; note: Uint8Array };

/** `A:B:C` as a list; the empty string is the empty list. */
export function splitSearchPath(value: string): string[] {
  return value === "" ? [] : value.split(":");
}

/**
 * `path` with the prefix `from` replaced by `to`, or null when `from` is not a prefix of
 * whole path components (`/nix/store/abc-glibc` does not match `/nix/store/abc-glibc-extra`).
 * `$ORIGIN`-relative entries never match an absolute prefix.
 */
export function replacePrefix(path: string, from: string, to: string): string | null {
  if (!path.startsWith(from)) return null;
  if (from.endsWith("/") || path.length === from.length || path[from.length] === "/") {
    return to + path.slice(from.length);
  }
  return null;
}

/** An indirection table's directory name for a class and machine: `elf64-x86_64`, `elf32-i386`. */
export const tableGroup = (elfClass: 32 | 64, e_machine: number): string => `elf${elfClass}-${machineName(e_machine, elfClass)}`;

/**
 * `path` moved into the table `table` for files of `group` when it lies under `from` (whole
 * components), or null: a directory (a search-path entry) becomes `table/lib/GROUP`, a file
 * `table/lib/GROUP/NAME` (the table's entry for its file name, else that name).
 */
export function replacePrefixInto(path: string, e: { from: string; table: string; groups: Readonly<Record<string, Readonly<Record<string, string>>>> }, group: string, kind: "dir" | "file"): string | null {
  if (replacePrefix(path, e.from, e.from) === null) return null;
  const dir = `${e.table}/lib/${group}`;
  if (kind === "dir") return dir;
  const base = path.slice(path.lastIndexOf("/") + 1);
  const names = Object.hasOwn(e.groups, group) ? e.groups[group]! : {};
  return `${dir}/${Object.hasOwn(names, base) ? names[base] : base}`;
}

/** A human-readable form of an edit, for plans and errors. */
export function describeEdit(e: Edit): string {
  switch (e.op) {
    case "set-interpreter":
      return `set interpreter ${e.path}`;
    case "set-search-path":
      return `set ${e.kind} ${e.paths.join(":")}`;
    case "add-runpath":
      return `add runpath ${e.path}`;
    case "remove-runpath":
      return "remove runpath";
    case "convert-search-path":
      return `convert search path to ${e.to}`;
    case "replace-prefix":
      return `replace prefix ${e.from}=${e.to}`;
    case "replace-prefix-into":
      return `replace prefix ${e.from} into the table ${e.table}`;
    case "add-needed":
      return `add needed ${e.name}`;
    case "remove-needed":
      return `remove needed ${e.name}`;
    case "replace-needed":
      return `replace needed ${e.from} ${e.to}`;
    case "set-soname":
      return `set soname ${e.name}`;
    case "set-flags-1":
      return `set DT_FLAGS_1 bits 0x${e.bits.toString(16)}`;
    case "add-debug-tag":
      return "add DT_DEBUG";
    case "clear-symbol-version":
      return `clear the version of ${e.name}`;
    case "set-os-abi":
      return `set OS/ABI ${e.value}`;
    case "set-execstack":
      return e.executable ? "set execstack" : "clear execstack";
    case "rename-symbols":
      return `rename ${e.map.length} symbols`;
    case "add-note":
      return `add note section ${e.section}`;
  }
}
