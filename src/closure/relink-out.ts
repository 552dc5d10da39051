// `abilink relink ROOT --out DIR`: the root written as a new tree at DIR, relinked. ELF files
// whose dynamic fields change go through the rewriter; every other file is copied as `cp`
// copies (reflink, else copy_file_range: never through this process's memory), on the
// worker pool (task-relink-out.ts); directories, symbolic links, modes (set-user-ID bits
// included), owners where permitted, extended attributes, times and hard links are kept.
// The root's references to itself (RUNPATH ROOT/lib, an interpreter inside the root,
// absolute symbolic links into it) move to DIR, as a Nix store copy needs.
//
// The tree is built beside DIR, in a private directory (`NAME.abilink-XXXXXXXX`, mode 0700,
// on DIR's file system) that the run holds with flock, and renamed to DIR once complete:
// an interrupted run never leaves a DIR that looks finished. A run killed with SIGKILL
// leaves its temporary tree; the next run removes it (only a directory of that name pattern,
// owned by this user and held by no live run) and builds the tree again.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  statSync,
  symlinkSync,
  unlinkSync,
  type BigIntStats,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { posix } from "node:path";
import { describeError } from "../errors.js";
import { native } from "../io/native.js";
import { fdPath, fsPath, pathFromBytes, realPath } from "../io/paths.js";
import { replacePrefix } from "../patch/edits.js";
import { planRelinkFiles, type RelinkFile, type RelinkPlan, type Replacement } from "./relink.js";
import type { RelinkWriteOutcome } from "./outcomes.js";
import { runOrdered } from "./pool.js";
import { timeOf, type RelinkWriteContext, type RelinkWriteItem } from "./task-relink-out.js";
import { RelinkOutError, inodeKey, join, mapLinkTarget, outReplacements, scanTree, type Entry } from "./relink-tree.js";

export { RelinkOutError };

const { O_RDONLY, O_NOFOLLOW, O_DIRECTORY } = constants;


export interface RelinkOutOptions {
  /** Run the ABI check (default true). */
  abiCheck?: boolean;
  /** Plan and check only: nothing is written. */
  dryRun?: boolean;
  /** Threads planning, checking and writing (default 1). */
  jobs?: number;
  /** fsync every file and directory before the tree is renamed to DIR (default true). */
  fsync?: boolean;
  /** Called as files are read and checked while planning (relink.ts's PlanRelinkOptions). */
  onProgress?: (phase: "read" | "check", done: number, total: number | null) => void;
  /** Called for each entry written. */
  onWrite?: (done: number, total: number) => void;
  /** A flag an interrupted run sets (see cli/signals.ts): the temporary tree is removed, DIR never appears. */
  abort?: Int32Array;
}

export interface RelinkOutSummary {
  /** Regular files under the root (each name). */
  scanned: number;
  /** Files written through the rewriter (to be, with dryRun). */
  rewritten: number;
  /** Files copied unchanged (to be, with dryRun). */
  copied: number;
  /** Further names of a file already written: hard links. */
  linked: number;
  directories: number;
  symlinks: number;
  /** Symbolic links whose target was rewritten (into DIR, or made absolute to keep pointing outside). */
  symlinksRetargeted: number;
  /** Bytes the rewritten files gained, together. */
  bytesGrown: number;
}

export interface RelinkOutResult {
  plan: RelinkPlan;
  /** The replacements the files' references were rewritten with: the user's and ROOT=DIR. */
  replacements: Replacement[];
  summary: RelinkOutSummary;
  /** Whether DIR was written (false: a dry run, the ABI check refused, or an interruption). */
  written: boolean;
  /** The run was interrupted (abort set): the temporary tree was removed, DIR does not exist. */
  interrupted: boolean;
  /**
   * References to OLD outside the dynamic fields (relink-refs.ts): those of NEW's length
   * rewritten in DIR's files; the others left, by source file and offset in DIR's file.
   */
  references: { rewritten: number; remaining: { path: string; offset: number; old: string }[] };
}

/** DIR as written: absolute, its parent and name, checked (not there yet, not inside the root). */
function checkOut(out: string, rootReal: string): { dir: string; parent: string; name: string } {
  const dir = posix.resolve(out);
  const parent = posix.dirname(dir);
  const name = posix.basename(dir);
  if (dir === "/" || name === "" || name === "." || name === "..") throw new RelinkOutError(out, "is not a name a new directory can have");
  try {
    lstatSync(fsPath(dir));
    throw new RelinkOutError(out, "exists already: --out writes a new tree (remove it, or name another); nothing written");
  } catch (e) {
    if (e instanceof RelinkOutError) throw e;
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new RelinkOutError(out, describeError(e));
  }
  let parentReal: string;
  try {
    parentReal = realPath(parent);
    if (!statSync(fsPath(parentReal)).isDirectory()) throw new RelinkOutError(parent, "is not a directory");
  } catch (e) {
    if (e instanceof RelinkOutError) throw e;
    throw new RelinkOutError(parent, `${describeError(e)} (the directory --out is made in)`);
  }
  if (replacePrefix(join(parentReal, name), rootReal, rootReal) !== null) throw new RelinkOutError(out, "lies inside the root: --out writes a new tree beside it; nothing written");
  return { dir, parent, name };
}

/** Our temporary trees for DIR `name`: `NAME.abilink-` and 8 characters of base64url. */
const tempPattern = (name: string) => {
  const prefix = `${name}.abilink-`;
  return (entry: string) => entry.length === prefix.length + 8 && entry.startsWith(prefix) && /^[A-Za-z0-9_-]{8}$/.test(entry.slice(prefix.length));
};

/**
 * Removes what a killed run left beside DIR: directories of our name pattern, owned by this
 * user, that no live run holds (flock). One that a live run holds refuses this run.
 */
export function removeStaleTrees(parentFd: number, parent: string, name: string, out: string): number {
  const ours = tempPattern(name);
  let removed = 0;
  for (const raw of readdirSync(fdPath(parentFd), { encoding: "buffer" })) {
    const entry = pathFromBytes(raw);
    if (!ours(entry)) continue;
    const at = fsPath(`${fdPath(parentFd)}/${entry}`);
    const st = lstatSync(at, { bigint: true });
    if (!st.isDirectory() || Number(st.uid) !== process.getuid?.()) continue;
    const fd = openSync(at, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
      if (inodeKey(fstatSync(fd, { bigint: true })) !== inodeKey(st)) continue;
      if (!native.flock(fd, true, false)) {
        throw new RelinkOutError(out, `another abilink run is writing it (its temporary tree ${join(parent, entry)} is in use); nothing written`);
      }
      removeContents(fd);
      rmdirSync(at);
      removed++;
    } finally {
      closeSync(fd);
    }
  }
  return removed;
}

/** Removes everything in the directory open as `fd` (ours: a temporary tree), never following a link. */
export function removeContents(fd: number): void {
  const me = process.getuid?.();
  const st = fstatSync(fd);
  // A finished directory may have lost its write permission (a store path's 0555).
  if (st.uid === me && (st.mode & 0o700) !== 0o700) fchmodSync(fd, (st.mode & 0o7777) | 0o700);
  for (const raw of readdirSync(fdPath(fd), { encoding: "buffer" })) {
    const at = Buffer.concat([Buffer.from(`${fdPath(fd)}/`), raw]);
    if (lstatSync(at).isDirectory()) {
      const sub = openSync(at, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      try {
        removeContents(sub);
      } finally {
        closeSync(sub);
      }
      rmdirSync(at);
    } else unlinkSync(at);
  }
}

const notPermitted = (e: unknown) => (e as NodeJS.ErrnoException).code === "EPERM";

/**
 * Plans the relink of `root` into a new tree at `out` and, unless it is a dry run or the ABI
 * check refuses, writes it. Throws RelinkOutError when the tree cannot be copied (a special
 * file, DIR exists, another run writing DIR) or a file cannot be read or written: then no DIR.
 */
export async function relinkOut(root: string, out: string, user: readonly Replacement[], options: RelinkOutOptions = {}): Promise<RelinkOutResult> {
  let rootReal: string;
  try {
    rootReal = realPath(root);
  } catch (e) {
    throw new RelinkOutError(root, describeError(e));
  }
  const { dir, parent, name } = checkOut(out, rootReal);
  const entries = scanTree(root);
  const replacements = outReplacements(root, dir, user);
  const files = entries.filter((e) => e.kind === "file");
  // The ABI check reads every file where it is now, so its references are mapped with the
  // user's replacements only: ROOT=DIR would send the check to DIR, which does not exist
  // yet. Mapping ROOT to itself finds the very files DIR will hold (the same bytes, their
  // own references moved to DIR alike), so the result is the same as checking DIR.
  // Read and checked before anything is written. Each rewrite is planned by its writer (the
  // one pass over the file that plans and writes it), except in a dry run, whose report is the plan.
  const writing = !options.dryRun;
  const abiCheck = options.abiCheck !== false;
  let plan: RelinkPlan = { files: [], checked: 0, failures: [] };
  if (abiCheck || !writing) {
    plan = await planRelinkFiles(
      files.map((f) => f.path),
      replacements,
      { abiCheck, onProgress: options.onProgress, checkReplacements: user, jobs: options.jobs, planEdits: !writing },
    );
  }
  const rewrite = new Map<string, number>();
  for (const f of plan.files) if (f.kind === "rewrite") rewrite.set(f.path, f.grow);
  const summary: RelinkOutSummary = { scanned: files.length, rewritten: 0, copied: 0, linked: 0, directories: 0, symlinks: 0, symlinksRetargeted: 0, bytesGrown: 0 };
  const firstName = new Map<string, string>();
  const mapped = new Map<string, string>();
  const references: RelinkOutResult["references"] = { rewritten: 0, remaining: [] };
  for (const e of entries) {
    if (e.kind === "dir") summary.directories++;
    else if (e.kind === "symlink") {
      summary.symlinks++;
      const target = pathFromBytes(readlinkSync(fsPath(e.path), { encoding: "buffer" }));
      let to = mapLinkTarget(target, e.rel, { given: posix.resolve(root), real: rootReal }, dir);
      // A target into OLD moves to NEW where they have the same length (as --in-place does);
      // any other stays, and is reported (into a table, where it goes depends on what it names).
      for (const r of user) {
        const moved = replacePrefix(to, r.from, r.to);
        if (moved === null) continue;
        if (!r.table && Buffer.byteLength(r.from) === Buffer.byteLength(r.to)) to = moved;
        else references.remaining.push({ path: e.path, offset: 0, old: r.from });
        break;
      }
      mapped.set(e.rel, to);
      if (to !== target) summary.symlinksRetargeted++;
    } else if (e.st.nlink > 1n && firstName.has(inodeKey(e.st))) summary.linked++;
    else {
      if (e.st.nlink > 1n) firstName.set(inodeKey(e.st), e.rel);
      // Counted here for a dry run; a run that writes counts what its writers did.
      const grow = rewrite.get(e.path);
      if (writing) continue;
      if (grow === undefined) summary.copied++;
      else {
        summary.rewritten++;
        summary.bytesGrown += grow;
      }
    }
  }
  const result = { plan, replacements, summary, written: false, interrupted: false, references };
  const errors = plan.files.filter((f) => f.kind === "error");
  if (errors.length > 0) {
    const first = errors[0]!;
    throw new RelinkOutError(first.path, `${first.kind === "error" ? first.message : ""}${errors.length > 1 ? ` (and ${errors.length - 1} more files)` : ""}; nothing written`);
  }
  if (!writing || plan.failures.length > 0) return result;
  // What the writers planned and did, file by file in walk order: the plan as written.
  const written: RelinkFile[] = [];
  const interrupted = await writeTree(entries, { dir, parent, name, out }, replacements, mapped, options, (o) => {
    if (o.file !== null) written.push(o.file);
    if (o.file?.kind === "rewrite") {
      summary.rewritten++;
      summary.bytesGrown += o.file.grow;
    } else summary.copied++;
    references.rewritten += o.rewritten;
    references.remaining.push(...o.remaining);
  });
  // The check's needs-rebuild and the writers' agree (both read the same files); the writers' list is the plan.
  return { ...result, plan: { ...plan, files: written }, written: !interrupted, interrupted };
}

/**
 * Builds the tree in a private directory beside DIR and renames it to DIR. Returns true when
 * interrupted (the temporary tree removed). On failure the temporary tree is removed too.
 */
async function writeTree(
  entries: readonly Entry[],
  where: { dir: string; parent: string; name: string; out: string },
  replacements: readonly Replacement[],
  links: ReadonlyMap<string, string>,
  options: RelinkOutOptions,
  onFile: (outcome: Extract<RelinkWriteOutcome, { kind: "written" }>) => void,
): Promise<boolean> {
  const durable = options.fsync !== false;
  let parentFd: number;
  try {
    parentFd = openSync(fsPath(where.parent), O_RDONLY | O_DIRECTORY);
  } catch (e) {
    throw new RelinkOutError(where.parent, describeError(e));
  }
  let treeFd = -1;
  let treeName = "";
  try {
    removeStaleTrees(parentFd, where.parent, where.name, where.out);
    ({ fd: treeFd, name: treeName } = makeTree(parentFd, where));
    const at = (rel: string) => fsPath(rel === "" ? fdPath(treeFd) : `${fdPath(treeFd)}/${rel}`);
    const aborted = () => options.abort !== undefined && Atomics.load(options.abort, 0) !== 0;
    let done = 0;
    const wrote = () => options.onWrite?.(++done, entries.length);
    const fail = (path: string, err: unknown): never => {
      if (err instanceof RelinkOutError) throw err;
      throw new RelinkOutError(path, `${describeError(err)}; nothing written`);
    };
    // Directories and symbolic links here, in walk order (parents first); each file's first
    // name on the pool; further names of a file (hard links) once it is there.
    const firstName = new Map<string, string>();
    const items: string[] = [];
    const later: Entry[] = [];
    for (const e of entries) {
      try {
        if (e.kind === "dir") {
          if (e.rel !== "") mkdirSync(at(e.rel), 0o700);
        } else if (e.kind === "symlink") {
          symlinkSync(fsPath(links.get(e.rel)!), at(e.rel));
          try {
            lchownSync(at(e.rel), Number(e.st.uid), Number(e.st.gid));
          } catch (err) {
            if (!notPermitted(err)) throw err;
          }
          lutimesSync(at(e.rel), timeOf(e.st.atimeNs), timeOf(e.st.mtimeNs));
        } else if (e.st.nlink > 1n && firstName.has(inodeKey(e.st))) {
          later.push(e);
          continue;
        } else {
          if (e.st.nlink > 1n) firstName.set(inodeKey(e.st), e.rel);
          const item: RelinkWriteItem = { path: e.path, rel: e.rel, inode: inodeKey(e.st), atime: timeOf(e.st.atimeNs), mtime: timeOf(e.st.mtimeNs) };
          items.push(JSON.stringify(item));
          continue;
        }
      } catch (err) {
        fail(e.path, err);
      }
      wrote();
    }
    let failed: { path: string; message: string } | null = null;
    const context: RelinkWriteContext = { tree: fdPath(treeFd), replacements, durable, abort: options.abort };
    await runOrdered(
      "relink-out",
      items.values(),
      (o) => {
        if (o.kind === "error") failed ??= o;
        else onFile(o);
        wrote();
      },
      { jobs: options.jobs ?? 1, inline: 8, batch: 4, context, stop: () => aborted() || failed !== null },
    );
    if (aborted()) return true;
    if (failed !== null) {
      const { path, message } = failed;
      throw new RelinkOutError(path, `${message}; nothing written`);
    }
    for (const e of later) {
      try {
        linkSync(at(firstName.get(inodeKey(e.st))!), at(e.rel));
      } catch (err) {
        fail(e.path, err);
      }
      wrote();
    }
    // Directories last, deepest first: their mode (a store path's 0555) once nothing more is
    // written into them, their times once their entries are all made.
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      if (e.kind !== "dir") continue;
      const fd = e.rel === "" ? treeFd : openSync(at(e.rel), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      try {
        if (durable) fsyncSync(fd);
        try {
          fchownSync(fd, Number(e.st.uid), Number(e.st.gid));
        } catch (err) {
          if (!notPermitted(err)) throw err;
        }
        fchmodSync(fd, Number(e.st.mode) & 0o7777);
        futimesSync(fd, timeOf(e.st.atimeNs), timeOf(e.st.mtimeNs));
      } finally {
        if (fd !== treeFd) closeSync(fd);
      }
    }
    if (aborted()) return true;
    // DIR must still not exist: rename(2) would replace an empty directory someone made meanwhile.
    try {
      lstatSync(fsPath(`${fdPath(parentFd)}/${where.name}`));
      throw new RelinkOutError(where.out, "was made by another program while abilink wrote it; nothing written");
    } catch (err) {
      if (err instanceof RelinkOutError) throw err;
    }
    renameSync(fsPath(`${fdPath(parentFd)}/${treeName}`), fsPath(`${fdPath(parentFd)}/${where.name}`));
    treeName = "";
    if (durable) fsyncSync(parentFd);
    return false;
  } finally {
    if (treeFd >= 0) {
      if (treeName !== "") {
        try {
          removeContents(treeFd);
          rmdirSync(fsPath(`${fdPath(parentFd)}/${treeName}`));
        } catch {
          // left for the next run, which removes it
        }
      }
      closeSync(treeFd);
    }
    closeSync(parentFd);
  }
}

/** The private directory the tree is built in, held (flock) while this run lives. */
export function makeTree(parentFd: number, where: { parent: string; name: string }): { fd: number; name: string } {
  for (let attempt = 0; ; attempt++) {
    const name = `${where.name}.abilink-${randomBytes(6).toString("base64url")}`;
    const at = fsPath(`${fdPath(parentFd)}/${name}`);
    try {
      mkdirSync(at, 0o700);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST" && attempt < 8) continue;
      throw new RelinkOutError(where.parent, `${describeError(e)}; nothing written`);
    }
    const fd = openSync(at, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    // Held before anything goes in; another run's clean-up may have taken it first (it saw an
    // empty tree of our pattern between the mkdir and the flock): then it is gone, try again.
    const held = native.flock(fd, true, false);
    const st = fstatSync(fd, { bigint: true });
    let there: BigIntStats | null = null;
    try {
      there = lstatSync(at, { bigint: true });
    } catch {
      there = null;
    }
    if (held && there !== null && inodeKey(there) === inodeKey(st) && Number(st.uid) === process.getuid?.() && (Number(st.mode) & 0o777) === 0o700) return { fd, name };
    closeSync(fd);
    if (attempt >= 8) throw new RelinkOutError(where.parent, "the private directory abilink made there was taken or replaced; nothing written");
  }
}
