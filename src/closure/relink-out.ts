// `abilink relink ROOT --out DIR`: the root written as a new tree at DIR, relinked. ELF files
// whose dynamic fields change go through the rewriter (planFile, then applyPlan into a new
// file); every other file is copied as `cp` copies (reflink, else copy_file_range: never
// through this process's memory); directories, symbolic links, modes (set-user-ID bits
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
  fsync,
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
import { promisify } from "node:util";
import { ChangedFileError, describeError } from "../errors.js";
import { SourceFile, fillCopy, unchanged, writeAll } from "../io/atomic-write.js";
import { native } from "../io/native.js";
import { fdPath, fsPath, pathFromBytes, realPath } from "../io/paths.js";
import { replacePrefix, type Edit } from "../patch/edits.js";
import { applyPlan, planFile } from "../patch/patch-file.js";
import { planRelinkFiles, type RelinkPlan, type Replacement } from "./relink.js";
import { findReferences } from "./relink-refs.js";
import { RelinkOutError, inodeKey, join, mapLinkTarget, outReplacements, scanTree, type Entry } from "./relink-tree.js";

export { RelinkOutError };

const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = constants;
const fsyncAsync = promisify(fsync);


export interface RelinkOutOptions {
  /** Run the ABI check (default true). */
  abiCheck?: boolean;
  /** Plan and check only: nothing is written. */
  dryRun?: boolean;
  /** Threads planning and checking (the copy itself runs on one). */
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
  const plan = await planRelinkFiles(
    files.map((f) => f.path),
    replacements,
    { abiCheck: options.abiCheck !== false, onProgress: options.onProgress, checkReplacements: user, jobs: options.jobs },
  );
  const rewrite = new Map<string, number>();
  for (const f of plan.files) if (f.kind === "rewrite") rewrite.set(f.path, f.grow);
  const summary: RelinkOutSummary = { scanned: files.length, rewritten: 0, copied: 0, linked: 0, directories: 0, symlinks: 0, symlinksRetargeted: 0, bytesGrown: 0 };
  const firstName = new Map<string, string>();
  const mapped = new Map<string, string>();
  for (const e of entries) {
    if (e.kind === "dir") summary.directories++;
    else if (e.kind === "symlink") {
      summary.symlinks++;
      const target = pathFromBytes(readlinkSync(fsPath(e.path), { encoding: "buffer" }));
      let to = mapLinkTarget(target, e.rel, { given: posix.resolve(root), real: rootReal }, dir);
      // A target into OLD moves to NEW where they have the same length (as --in-place does).
      for (const r of user) {
        const moved = replacePrefix(to, r.from, r.to);
        if (moved !== null && Buffer.byteLength(r.from) === Buffer.byteLength(r.to)) {
          to = moved;
          break;
        }
      }
      mapped.set(e.rel, to);
      if (to !== target) summary.symlinksRetargeted++;
    } else if (e.st.nlink > 1n && firstName.has(inodeKey(e.st))) summary.linked++;
    else {
      if (e.st.nlink > 1n) firstName.set(inodeKey(e.st), e.rel);
      const grow = rewrite.get(e.path);
      if (grow === undefined) summary.copied++;
      else {
        summary.rewritten++;
        summary.bytesGrown += grow;
      }
    }
  }
  const references: RelinkOutResult["references"] = { rewritten: 0, remaining: [] };
  // Programs to rebuild keep their references (listed, as --in-place lists them).
  const leaveAlone = new Set(plan.files.filter((f) => f.kind === "needs-rebuild").map((f) => f.path));
  const result = { plan, replacements, summary, written: false, interrupted: false, references };
  const errors = plan.files.filter((f) => f.kind === "error");
  if (errors.length > 0) {
    const first = errors[0]!;
    throw new RelinkOutError(first.path, `${first.kind === "error" ? first.message : ""}${errors.length > 1 ? ` (and ${errors.length - 1} more files)` : ""}; nothing written`);
  }
  if (options.dryRun || plan.failures.length > 0) return result;
  const interrupted = await writeTree(entries, { dir, parent, name, out }, replacements, rewrite, mapped, options, references, leaveAlone);
  return { ...result, written: !interrupted, interrupted };
}

/**
 * Builds the tree in a private directory beside DIR and renames it to DIR. Returns true when
 * interrupted (the temporary tree removed). On failure the temporary tree is removed too.
 */
async function writeTree(
  entries: readonly Entry[],
  where: { dir: string; parent: string; name: string; out: string },
  replacements: readonly Replacement[],
  rewrite: ReadonlyMap<string, number>,
  links: ReadonlyMap<string, string>,
  options: RelinkOutOptions,
  references: RelinkOutResult["references"],
  leaveAlone: ReadonlySet<string>,
): Promise<boolean> {
  const durable = options.fsync !== false;
  const edits: Edit[] = replacements.map((r) => ({ op: "replace-prefix", from: r.from, to: r.to }));
  let parentFd: number;
  try {
    parentFd = openSync(fsPath(where.parent), O_RDONLY | O_DIRECTORY);
  } catch (e) {
    throw new RelinkOutError(where.parent, describeError(e));
  }
  let treeFd = -1;
  let treeName = "";
  const unsynced: number[] = [];
  try {
    removeStaleTrees(parentFd, where.parent, where.name, where.out);
    ({ fd: treeFd, name: treeName } = makeTree(parentFd, where));
    const at = (rel: string) => fsPath(rel === "" ? fdPath(treeFd) : `${fdPath(treeFd)}/${rel}`);
    const aborted = () => options.abort !== undefined && Atomics.load(options.abort, 0) !== 0;
    const firstName = new Map<string, string>();
    const flush = async () => {
      const fds = unsynced.splice(0);
      try {
        if (durable) await Promise.all(fds.map((fd) => fsyncAsync(fd)));
      } finally {
        for (const fd of fds) closeSync(fd);
      }
    };
    let done = 0;
    for (const e of entries) {
      if (aborted()) {
        await flush();
        return true;
      }
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
        } else {
          const first = e.st.nlink > 1n ? firstName.get(inodeKey(e.st)) : undefined;
          if (first !== undefined) linkSync(at(first), at(e.rel));
          else {
            if (e.st.nlink > 1n) firstName.set(inodeKey(e.st), e.rel);
            const fd = copyFile(e, at(e.rel), rewrite.has(e.path) ? edits : null);
            unsynced.push(fd);
            // Other references to OLD in the new file (the dynamic fields are rewritten
            // already): NEW's length written over them in place (the tree is private), the
            // rest reported. Scanned in the file as written, so offsets are its own.
            for (const ref of findReferences(`${fdPath(treeFd)}/${e.rel}`, replacements)) {
              if (ref.kind === "bytes" && ref.sameLength && !leaveAlone.has(e.path)) {
                writeAll(fd, new TextEncoder().encode(ref.new), ref.offset);
                references.rewritten++;
              } else references.remaining.push({ path: e.path, offset: ref.offset, old: ref.old });
            }
            if (unsynced.length >= 64) await flush();
          }
        }
      } catch (err) {
        if (err instanceof RelinkOutError) throw err;
        throw new RelinkOutError(e.path, `${describeError(err)}; nothing written`);
      }
      options.onWrite?.(++done, entries.length);
    }
    await flush();
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
    for (const fd of unsynced) closeSync(fd);
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

/** Node's times, in seconds with a fraction (what futimes and lutimes take). */
const timeOf = (ns: bigint): number => Number(ns / 1000n) / 1e6;

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

/**
 * One file's first name in the tree: its rewrite (with `edits`) or a copy, made with
 * O_EXCL at `dest`. Returns the new file's descriptor, still to be made durable and closed.
 */
function copyFile(e: Entry, dest: string | Buffer, edits: readonly Edit[] | null): number {
  const fd = openSync(dest, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    const same = (st: BigIntStats) => {
      if (inodeKey(st) !== inodeKey(e.st)) throw new ChangedFileError("was replaced by another program while abilink read the tree; nothing written (run again)");
    };
    if (edits !== null) {
      const planned = planFile(e.path, edits);
      try {
        same(planned.source.stat);
      } catch (err) {
        planned.source.close();
        throw err;
      }
      // Rewritten: a new file, with the time it was written (as `patch` gives it).
      applyPlan(planned, { kind: "into", fd });
    } else {
      const source = SourceFile.open(e.path);
      try {
        same(source.stat);
        fillCopy(source, fd, unchanged(Number(source.stat.size)));
        // Copied as it is, with its times, as `cp -a`.
        futimesSync(fd, timeOf(source.stat.atimeNs), timeOf(source.stat.mtimeNs));
      } finally {
        source.close();
      }
    }
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
