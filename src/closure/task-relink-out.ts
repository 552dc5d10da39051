// One file of `relink --out`'s new tree, on the worker pool (relink-out.ts deals them out):
// the source opened once and, for a program or library, its rewrite planned there (the
// plan's only pass over it: the ABI check before reads without planning); its first name
// made in the private tree with O_EXCL and filled by the rewriter or copied as `cp` copies
// (reflink, else copy_file_range: never through this process's memory); then its other
// references to OLD rewritten where NEW has the same length. The tree's directory is named
// by /proc/self/fd/N, which every thread of the process shares. A thread's new files are
// fsynced together and closed by finishWrites, once per batch (its own files only), before
// their outcomes leave the thread.
import { closeSync, constants, fsync, futimesSync, openSync } from "node:fs";
import { promisify } from "node:util";
import { ChangedFileError } from "../errors.js";
import { SourceFile, fillCopy, unchanged, writeAll } from "../io/atomic-write.js";
import { fsPath } from "../io/paths.js";
import { withElfFd } from "../io/file-source.js";
import { applyPlan } from "../patch/patch-file.js";
import { failure, type RelinkWriteOutcome } from "./outcomes.js";
import { relinkEdits, relinkElf, type Replacement } from "./relink.js";
import { findReferencesInFd } from "./relink-refs.js";
import { inodeKey } from "./relink-tree.js";

const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;
const fsyncAsync = promisify(fsync);

/** What every file of one tree is written with. */
export interface RelinkWriteContext {
  /** The private tree's directory, as /proc/self/fd/N. */
  tree: string;
  replacements: readonly Replacement[];
  /** fsync each file before it is closed. */
  durable: boolean;
  /** Set when the run is interrupted: no further file is started. */
  abort?: Int32Array;
}

/** One file to write (an item is its JSON). */
export interface RelinkWriteItem {
  /** The source, as walked. */
  path: string;
  /** Its path below the root: where it goes in the tree. */
  rel: string;
  /** The source's inode as the walk saw it (dev:ino): a file replaced since is refused. */
  inode: string;
  /** The source's times, kept on a copy as `cp -a` keeps them (seconds). */
  atime: number;
  mtime: number;
}

/** New files of this thread, still to be made durable and closed. */
const open = new Map<RelinkWriteOutcome, number>();

/** Node's times, in seconds with a fraction (what futimes and lutimes take). */
export const timeOf = (ns: bigint): number => Number(ns / 1000n) / 1e6;

/** Writes one file of the tree; never throws (a failure is an outcome). */
export function writeOne(json: string, context: unknown): RelinkWriteOutcome {
  const c = context as RelinkWriteContext;
  const item = JSON.parse(json) as RelinkWriteItem;
  if (c.abort !== undefined && Atomics.load(c.abort, 0) !== 0) return { kind: "error", path: item.path, message: "interrupted" };
  let source: SourceFile | null = null;
  let fd = -1;
  try {
    source = SourceFile.open(item.path);
    if (inodeKey(source.stat) !== item.inode) throw new ChangedFileError("was replaced by another program while abilink read the tree; nothing written (run again)");
    const edits = relinkEdits(c.replacements);
    const src = source;
    const decided = withElfFd(src.fd, item.path, (elf) => relinkElf(elf, item.path, edits, inodeKey(src.stat)));
    fd = openSync(fsPath(`${c.tree}/${item.rel}`), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    const plan = decided?.plan ?? null;
    const file = decided?.file ?? null;
    const outcome: RelinkWriteOutcome = { kind: "written", path: item.path, file, rewritten: 0, remaining: [] };
    // Other references to OLD in the new file (its dynamic fields are rewritten already):
    // NEW's length written over them in place (the tree is private), the rest reported —
    // all of them for a program to rebuild. Scanned in the file as written (its own
    // offsets), before it gets its owner, mode and capabilities, which a write would clear.
    const references = (into: number) => {
      for (const ref of findReferencesInFd(into, item.path, c.replacements)) {
        if (ref.sameLength && file?.kind !== "needs-rebuild") {
          writeAll(into, new TextEncoder().encode(ref.new), ref.offset);
          outcome.rewritten++;
        } else outcome.remaining.push({ path: item.path, offset: ref.offset, old: ref.old });
      }
    };
    if (plan !== null) {
      const planned = { path: item.path, real: item.path, source, plan };
      source = null; // applyPlan closes it
      applyPlan(planned, { kind: "into", fd, finishBytes: references });
    } else fillCopy(source, fd, unchanged(Number(source.stat.size)), references);
    // Copied as it is, with its times, as `cp -a` (a rewritten file has the time it was written, as `patch` gives it).
    if (plan === null) futimesSync(fd, item.atime, item.mtime);
    open.set(outcome, fd);
    return outcome;
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    return failure(item.path, e);
  } finally {
    source?.close();
  }
}

/** Makes this thread's new files durable (fsyncs together) and closes them; a failed fsync fails its file. */
export async function finishWrites(results: RelinkWriteOutcome[], context: unknown): Promise<void> {
  const c = context as RelinkWriteContext;
  // This batch's files only: the thread may have written the next batch's meanwhile.
  const batch = results.flatMap((o) => {
    const fd = open.get(o);
    if (fd === undefined) return [];
    open.delete(o);
    return [[o, fd] as const];
  });
  await Promise.all(
    batch.map(async ([outcome, fd]) => {
      try {
        if (c.durable) await fsyncAsync(fd);
      } catch (e) {
        const i = results.indexOf(outcome);
        if (i >= 0) results[i] = failure(outcome.kind === "written" ? outcome.path : "", e);
      } finally {
        closeSync(fd);
      }
    }),
  );
}
