// `abilink relink`, the plan: every ELF file under the roots, the references each moves from
// an OLD prefix to a NEW one (interpreter, RPATH/RUNPATH entries, NEEDED paths: patch's
// replace-prefix edit), and the ABI check with the NEW libraries in place — ld.so's
// resolution as `compat` emulates it, the run paths read as they will be — before anything
// is written. The check refuses what the replacement breaks: a problem the file has today
// as well (a plugin's imports that its host program provides) is not the relink's. Static programs cannot be relinked and are listed as needing a rebuild.
// What the check cannot see is listed as unchecked: programs and libraries that call dlopen
// (what they open is not in the load set ld.so builds from NEEDED), and libraries no file
// under the roots needs (plugins, checked on their own rather than with their host).
import { statSync } from "node:fs";
import { basename, dirname } from "node:path";
import type { CompatProblem } from "../abi/compat.js";
import { DF_1_PIE, ET_DYN, ET_EXEC, PT_DYNAMIC, PT_INTERP, SHN_UNDEF, type ElfFile } from "../elf/index.js";
import { describeError } from "../errors.js";
import { withElfFile } from "../io/file-source.js";
import { fsPath, realPath } from "../io/paths.js";
import { replacePrefix, replacePrefixInto, tableGroup, type Edit } from "../patch/edits.js";
import { planPatch, type PatchPlan } from "../patch/plan.js";
import { GLIBC_SONAMES, ObjectCache, compatCheck, isGlibcLoader as isLoader } from "./ld-so.js";
import type { RelinkOutcome } from "./outcomes.js";
import { runOrdered } from "./pool.js";
import { readTableNames, type TableNames } from "./table-record.js";
import { walkFiles } from "./walk.js";

export interface Replacement {
  from: string;
  to: string;
  /**
   * NEW is an indirection table (`abilink table`; its entries, table-record.ts): references
   * under OLD move into its directory for each file's class/machine (resolveTables).
   */
  table?: TableNames;
}

/** The rewriter's edits for `replacements`: a prefix replaced, or moved into a table. */
export function relinkEdits(replacements: readonly Replacement[]): Edit[] {
  return replacements.map((r) => (r.table ? { op: "replace-prefix-into", from: r.from, table: r.to, groups: r.table } : { op: "replace-prefix", from: r.from, to: r.to }));
}

/**
 * The replacements with each NEW that is an indirection table (a directory holding an
 * `abilink-table` record) marked as one. When OLD is a table too, the two tables' directories
 * have the same names: the prefix replacement moves each class/machine directory to NEW's.
 * Throws InputError for a record that cannot be read.
 */
export function resolveTables(replacements: readonly Replacement[]): Replacement[] {
  return replacements.map((r) => {
    const table = readTableNames(r.to);
    if (table === null || readTableNames(r.from) !== null) return { from: r.from, to: r.to };
    return { from: r.from, to: r.to, table };
  });
}

/** What the plan says of one file under the roots (non-ELF files are not listed). */
export type RelinkFile =
  /** Its references move: `changes` as `patch --dry-run` words them; `grow`, the bytes the file gains. */
  | { kind: "rewrite"; path: string; changes: string[]; grow: number; identity: string }
  /** Nothing in it names an OLD prefix. */
  | { kind: "unchanged"; path: string }
  /** Statically linked: code from the old library is inside it. */
  | { kind: "needs-rebuild"; path: string; why: string }
  | { kind: "error"; path: string; message: string };

/** One binary the ABI check refuses, with ld.so's problems (errors only) as `compat` reports them. */
export interface AbiFailure {
  path: string;
  problems: CompatProblem[];
}

export interface RelinkPlan {
  files: RelinkFile[];
  /** Dynamic ELF files checked, and those refused. */
  checked: number;
  failures: AbiFailure[];
  /**
   * What the check cannot see (dlopen callers, libraries nothing under the roots needs), in
   * walk order; never refused. Absent from a plan made without reading (relink --out, no check).
   */
  unchecked?: { path: string; why: string }[];
}

/** What a dynamic file tells of the loads the check cannot see, read with the rest of it. */
export interface FileLinks {
  /** It imports dlopen or dlmopen (any version). */
  dlopen: boolean;
  soname: string | null;
  /** Its NEEDED entries' file names (a path's last component). */
  needed: string[];
  /** A shared library (not a program), and not one of glibc's. */
  library: boolean;
}

const DLOPEN_WHY = "calls dlopen: libraries it opens at run time are not checked";
const UNNEEDED_WHY = "no file under the roots needs it (a plugin loaded with dlopen?): checked on its own, not with its host";

/** glibc's libraries and modules, which libc itself opens (NSS, gconv, …): "glibc from one build" covers them. */
const GLIBC_MODULES = new Set(["libc_malloc_debug.so.0", "libmemusage.so", "libpcprofile.so", "libSegFault.so", "libcidn.so.1", "sotruss-lib.so"]);
function isGlibcFile(soname: string | null, path: string): boolean {
  const glibc = (n: string) => GLIBC_SONAMES.has(n) || isLoader(n) || GLIBC_MODULES.has(n) || /^libnss_\w+\.so\.\d+$/.test(n);
  return (soname !== null && glibc(soname)) || glibc(basename(path)) || basename(dirname(path)) === "gconv";
}

/** Whether `elf` imports dlopen or dlmopen: its undefined dynamic symbols, by name only. */
function importsDlopen(elf: ElfFile): boolean {
  try {
    const t = elf.dynsym;
    for (let i = 1; t && i < t.count; i++) {
      if (t.shndx(i) !== SHN_UNDEF) continue;
      const name = t.name(i);
      if (name === "dlopen" || name === "dlmopen") return true;
    }
  } catch {
    // A symbol table that cannot be read: the check reports it.
  }
  return false;
}

function fileLinks(elf: ElfFile, path: string): FileLinks {
  const dyn = elf.dynamic;
  const soname = dyn?.soname ?? null;
  // A PIE program is ET_DYN too: a library has DF_1_PIE clear and a SONAME or no interpreter.
  const library = elf.header.e_type === ET_DYN && ((dyn?.flags1 ?? 0) & DF_1_PIE) === 0 && (soname !== null || elf.interpreter === null) && !isGlibcFile(soname, path);
  return { dlopen: importsDlopen(elf), soname, needed: (dyn?.needed ?? []).map((n) => n.slice(n.lastIndexOf("/") + 1)), library };
}

/** The plan's unchecked list from each file's links, in walk order. */
function uncheckedList(links: { path: string; links: FileLinks }[]): RelinkPlan["unchecked"] {
  const needed = new Set(links.flatMap((l) => l.links.needed));
  const out: RelinkPlan["unchecked"] = [];
  for (const { path, links: l } of links) {
    if (l.dlopen) out.push({ path, why: DLOPEN_WHY });
    if (l.library && !needed.has(basename(path)) && (l.soname === null || !needed.has(l.soname))) out.push({ path, why: UNNEEDED_WHY });
  }
  return out;
}

/**
 * `path` with the first matching replacement applied (whole path components), or as it was.
 * Into a table, a path moves by what it names (a directory: a run-path entry; a file: the
 * interpreter, a NEEDED path) and the class/machine of the file that names it (`into`).
 */
export function mapReference(path: string, replacements: readonly Replacement[], into?: { group: string; kind: "dir" | "file" }): string {
  for (const r of replacements) {
    const to = r.table ? replacePrefixInto(path, { from: r.from, table: r.to, groups: r.table }, into?.group ?? "", into?.kind ?? "file") : replacePrefix(path, r.from, r.to);
    if (to !== null) return to;
  }
  return path;
}

/** Why `elf` cannot be relinked (statically linked), or null. */
function staticReason(elf: ElfFile): string | null {
  const has = (t: number) => elf.programHeaders.some((p) => p.p_type === t);
  if (!has(PT_DYNAMIC)) return "statically linked: the library's code is inside it; rebuild it";
  if (!has(PT_INTERP) && ((elf.dynamic?.flags1 ?? 0) & DF_1_PIE) !== 0) return "a static PIE: the library's code is inside it; rebuild it";
  return null;
}

export interface PlanRelinkOptions {
  /** Run the ABI check (default true). */
  abiCheck?: boolean;
  /** Called as files are planned and checked (total unknown). */
  onProgress?: (phase: "read" | "check", done: number, total: number | null) => void;
  /** Threads at work (default 1). */
  jobs?: number;
  /** Real paths the files must lie in (default: none checked). */
  roots?: readonly string[];
  /**
   * The mapping the ABI check reads the references through (default: `replacements`), for
   * a plan whose edits name places that do not exist yet (`--out`: see relink-out.ts).
   */
  checkReplacements?: readonly Replacement[];
  /** Plan each file's edits (default true): false reads and checks only, every dynamic file "unchanged". */
  planEdits?: boolean;
}

/**
 * The plan for relinking `roots`: each ELF file's rewrite and, unless `abiCheck` is false,
 * the ABI check of every dynamic one with the references mapped. Reads only; the files are
 * planned and checked on the worker pool (`jobs` threads), the results in walk order.
 */
export async function planRelink(roots: readonly string[], replacements: readonly Replacement[], options: PlanRelinkOptions = {}): Promise<RelinkPlan> {
  // A root or directory that cannot be read is an error of the plan (exit 1), never a crash.
  const unreadable: RelinkFile[] = [];
  const walk = walkFiles(roots, { onError: (path, e) => unreadable.push({ kind: "error", path, message: describeError(e) }) });
  const plan = await planRelinkFiles(guard(walk, unreadable), replacements, { ...options, roots: options.roots ?? roots.map(realRoot) });
  return { ...plan, files: [...unreadable, ...plan.files] };
}

/** The walk, with a root that is not a directory or a regular file reported rather than thrown. */
function* guard(walk: Generator<string>, errors: RelinkFile[]): Generator<string> {
  try {
    yield* walk;
  } catch (e) {
    errors.push({ kind: "error", path: "", message: describeError(e) });
  }
}

/** A root's real path (the writes check that each file still lies under one). */
function realRoot(root: string): string {
  try {
    return realPath(root);
  } catch {
    return root;
  }
}

/** What the pool's relink task needs with each file. */
export interface RelinkContext {
  replacements: readonly Replacement[];
  /** The roots' real paths: a file whose real path leaves them is refused. */
  roots: readonly string[];
  checkReplacements: readonly Replacement[];
  abiCheck: boolean;
  /** Plan each file's edits (default true; relink --out's writers plan them instead). */
  plan?: boolean;
}

/** planRelink for the regular files `paths` (walked by the caller). */
export async function planRelinkFiles(paths: Iterable<string>, replacements: readonly Replacement[], options: PlanRelinkOptions = {}): Promise<RelinkPlan> {
  const files: RelinkFile[] = [];
  const failures: AbiFailure[] = [];
  const links: { path: string; links: FileLinks }[] = [];
  let checked = 0;
  let read = 0;
  // This thread's objects from an earlier plan in this process may be stale (files rewritten since); workers start empty.
  threadCache.clear();
  const context: RelinkContext = { replacements, roots: options.roots ?? [], checkReplacements: options.checkReplacements ?? replacements, abiCheck: options.abiCheck !== false, plan: options.planEdits !== false };
  await runOrdered(
    "relink",
    paths[Symbol.iterator](),
    (r) => {
      options.onProgress?.("read", ++read, null);
      if (r.file) files.push(r.file);
      if (r.checked) checked++;
      if (r.failure) failures.push(r.failure);
      if (r.file && r.links) links.push({ path: r.file.path, links: r.links });
    },
    { jobs: options.jobs ?? 1, inline: 16, batch: 8, context },
  );
  return { files, checked, failures, unchecked: uncheckedList(links) };
}

/** Objects the check has read, by path: one cache per thread, shared by the files it checks, bounded. */
const threadCache = new ObjectCache();

/**
 * What relink does with one ELF file: nothing for an object (.o, a kernel module: data, not
 * linked; null), a rebuild for a static program, else its rewrite (`plan`), or nothing when
 * no reference moves. With `planEdits` false the edits are not planned (a dynamic file is
 * "unchanged" until its writer plans it: relink --out).
 */
export function relinkElf(elf: ElfFile, path: string, edits: readonly Edit[], identity: string, planEdits = true): { file: RelinkFile; plan: PatchPlan | null } | null {
  if (elf.header.e_type !== ET_EXEC && elf.header.e_type !== ET_DYN) return null;
  const why = staticReason(elf);
  if (why) return { file: { kind: "needs-rebuild", path, why }, plan: null };
  if (!planEdits) return { file: { kind: "unchanged", path }, plan: null };
  const plan = planPatch(elf, edits);
  if (plan.changes.length === 0) return { file: { kind: "unchanged", path }, plan: null };
  return { file: { kind: "rewrite", path, changes: plan.changes, grow: plan.newSize - plan.oldSize, identity }, plan };
}

/** One file of the plan: its rewrite and its ABI check (never throws). */
export function relinkOne(path: string, context: unknown): RelinkOutcome {
  const { replacements, checkReplacements, abiCheck, roots, plan } = context as RelinkContext;
  const edits = relinkEdits(replacements);
  let file: RelinkFile | null;
  let links: FileLinks | undefined;
  try {
    // The walk never follows links, but a directory replaced by one since would lead out.
    const real = realPath(path);
    if (roots.length > 0 && !roots.some((r) => real === r || real.startsWith(r.endsWith("/") ? r : `${r}/`))) {
      return { file: { kind: "error", path, message: `is outside the roots (${real}): a directory on its path was replaced` }, checked: false, failure: null };
    }
    file = withElfFile(path, (elf, source) => {
      const f = relinkElf(elf, path, edits, source.identity, plan !== false)?.file ?? null;
      if (abiCheck && (f?.kind === "rewrite" || f?.kind === "unchanged")) links = fileLinks(elf, path);
      return f;
    });
  } catch (e) {
    return { file: { kind: "error", path, message: describeError(e) }, checked: false, failure: null };
  }
  if (!file || file.kind === "needs-rebuild" || !abiCheck) return { file, checked: false, failure: null };
  return { file, checked: true, failure: checkOne(path, checkReplacements), links };
}

/** The ABI check of one dynamic file with the references mapped, or null when it passes. */
function checkOne(path: string, checkWith: readonly Replacement[]): AbiFailure | null {
  const cache = threadCache;
  try {
    const { interp, group } = withElfFile(path, (elf) => ({ interp: elf.interpreter ?? null, group: tableGroup(elf.header.class, elf.header.e_machine) }))!;
    const mapPath = (p: string, kind: "dir" | "file" = "file") => mapReference(p, checkWith, { group, kind });
    const report = compatCheck(path, { mapPath, cache });
    let problems = report.problems.filter((p) => p.severity === "error");
    let mixed = glibcBuilds(interp === null ? null : mapPath(interp), report.loaded);
    // Only what the replacement breaks: a plugin whose imports its host program provides,
    // or a library already broken, fails the same way today (checked with OLD in place).
    // Not when an OLD is gone: then everything fails "today", and nothing may be excused.
    if ((problems.length > 0 || mixed) && checkWith.every((r) => exists(r.from))) {
      const today = compatCheck(path, { cache });
      const before = new Set(today.problems.filter((p) => p.severity === "error").map((p) => problemKey(p, mapPath)));
      problems = problems.filter((p) => !before.has(problemKey(p, (x) => x)));
      if (mixed && glibcBuilds(interp, today.loaded) !== null) mixed = null;
    }
    if (mixed) problems.push({ kind: "library-not-found", subject: "glibc", object: path, library: null, detail: mixed, severity: "error" });
    return problems.length > 0 ? { path, problems } : null;
  } catch (e) {
    return { path, problems: [{ kind: "library-not-found", subject: path, object: path, library: null, detail: describeError(e), severity: "error" }] };
  }
}

const exists = (path: string) => {
  try {
    statSync(fsPath(path));
    return true;
  } catch {
    return false;
  }
};

/** A problem's identity across the two checks, its paths read as they will be (`map`). */
const problemKey = (p: CompatProblem, map: (path: string) => string) => `${p.kind}\0${p.subject}\0${map(p.object)}\0${p.library === null ? "" : map(p.library)}`;

/**
 * Why the glibc pieces a binary would load come from more than one build (ld.so and libc,
 * libm, … from different directories), or null. `interpreter` is the loader it will name.
 */
export function glibcBuilds(interpreter: string | null, loaded: readonly { name: string; path: string }[]): string | null {
  const dirs = new Map<string, string[]>();
  const add = (what: string, path: string) => {
    let dir: string;
    try {
      dir = dirname(realPath(path));
    } catch {
      dir = dirname(path);
    }
    dirs.set(dir, [...(dirs.get(dir) ?? []), what]);
  };
  if (interpreter !== null && isLoader(interpreter.slice(interpreter.lastIndexOf("/") + 1))) add("the interpreter", interpreter);
  for (const l of loaded.slice(1)) if (GLIBC_SONAMES.has(l.name) || isLoader(l.name)) add(l.name, l.path);
  if (dirs.size <= 1) return null;
  return `glibc from ${dirs.size} builds: ${[...dirs].map(([d, what]) => `${what.join(", ")} from ${d}`).join("; ")}`;
}
