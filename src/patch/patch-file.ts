// One file: planned (the file opened and parsed once), then the plan applied to a target.
// Planning and applying are separate so that a caller can plan a file and write the result
// anywhere: into the file itself, atomically over it, or as a new file in another tree.
// The file stays open from planning to writing: the copy is made from, and checked
// against, the very file the plan was made from.
import { resolve, sep } from "node:path";
import type { ElfFile } from "../elf/index.js";
import { ChangedFileError, NotElfError, OutputError, PatchError } from "../errors.js";
import { SourceFile, changeInPlace, commitSync, fillCopy, prepareChangedCopy, type FileChange, type FileIdentity, type PendingCommit } from "../io/atomic-write.js";
import { withElfFd } from "../io/file-source.js";
import { realPath } from "../io/paths.js";
import type { Edit } from "./edits.js";
import { planPatch, shiftOf, type PatchPlan, type PlanOptions } from "./plan.js";

/** A plan for one file, with the open file it was made from (close it, or let applyPlan do so). */
export interface PlannedFile {
  /** The name given. */
  path: string;
  /** The file itself (symbolic links resolved). */
  real: string;
  source: SourceFile;
  plan: PatchPlan;
}

/** Where a plan's result goes. */
export type WriteTarget =
  /** Into the file's own inode (keeps hard links; not atomic), as patchelf does. */
  | { kind: "in-place" }
  /** A complete new file renamed over `path`: the input itself, or a path in another tree. */
  | { kind: "atomic"; path: string }
  /**
   * `fd`, a new empty file the caller made, filled (owner, mode, attributes included) and
   * left to the caller to make durable and name: a file of a tree built aside and renamed
   * into place whole (`relink --out`). `finishBytes` writes the caller's last bytes before
   * the owner, mode and attributes are given (see fillCopy).
   */
  | { kind: "into"; fd: number; finishBytes?: (fd: number) => void };

export interface WriteOptions {
  /**
   * fsync each file before it replaces the old one (default true). Off where durability is
   * handled elsewhere: a build sandbox whose output is discarded if the machine fails.
   * Atomicity does not depend on it: readers and a killed run still see old or new.
   */
  fsync?: boolean;
  /**
   * Atomic writes only: return the complete temporary file as pending instead of fsyncing
   * and renaming it; the caller commits it (many files then flush together).
   */
  deferCommit?: boolean;
}

/** What may be rewritten at all. */
export interface PolicyOptions {
  /** Allow rewriting files inside the Nix store. */
  force?: boolean;
  /** The Nix store directory (default: $NIX_STORE_DIR or /nix/store). */
  storeDir?: string;
  /**
   * The file each path must be (`dev:ino`) when it is opened to be written: relink's plan and
   * ABI check saw that file; another one there (a directory on its path replaced by a link
   * since) is refused, nothing written.
   */
  expected?: Readonly<Record<string, string>>;
  /** Real directories the file must lie in when it is written (relink's roots). */
  within?: readonly string[];
}

export interface PatchOptions {
  /** Write the result here instead of replacing the input. */
  output?: string;
  /** Write into the input's own inode (keeps hard links; not atomic), as patchelf does. */
  inPlace?: boolean;
  /** Plan only. */
  dryRun?: boolean;
  layout?: PlanOptions;
  write?: WriteOptions;
  policy?: PolicyOptions;
}

export interface PatchResult {
  path: string;
  /** Where the result went (the input, or `output`). */
  dest: string;
  plan: PatchPlan;
  /** Whether anything was written. */
  written: boolean;
  /** The input as it was planned from (its inode: other names of it keep the old file unless relinked). */
  identity: FileIdentity;
  /** How many names the input's inode had. */
  links: number;
  /** With write.deferCommit: the temporary file still to be committed. */
  pending?: PendingCommit;
}

/** True when `path` (resolved) lies inside `storeDir`. */
export function inStore(path: string, storeDir: string): boolean {
  const dir = resolve(storeDir);
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/**
 * A failure to write the result to `output` (a path named apart from the input), as that
 * output's: a change made to the input meanwhile stays the input's.
 */
export function blameOutput(output: string | undefined, e: unknown): unknown {
  return output !== undefined && !(e instanceof ChangedFileError) ? new OutputError(output, e) : e;
}

/**
 * Opens `path` once, parses it, and plans `edits` (or the edits `editsFor` derives from the
 * parsed file, e.g. patchelf's --shrink-rpath). With `lock`, the file is held (flock) until
 * the plan is applied or closed, so that another abilink run waits. Throws PatchError,
 * ElfError, InputError, ChangedFileError or a system error; on error nothing stays open.
 */
export function planFile(
  path: string,
  edits: readonly Edit[] | ((elf: ElfFile) => readonly Edit[]),
  options: PlanOptions = {},
  open: { lock?: boolean } = {},
): PlannedFile {
  const real = realPath(path);
  const source = SourceFile.open(real, open);
  try {
    const plan = withElfFd(source.fd, real, (elf) => planPatch(elf, typeof edits === "function" ? edits(elf) : edits, options));
    if (plan === null) throw new NotElfError("not an ELF file (bad magic)");
    return { path, real, source, plan };
  } catch (e) {
    source.close();
    throw e;
  }
}

/** The byte changes of a plan. */
const changeOf = (plan: PatchPlan): FileChange => ({ writes: plan.writes, shift: shiftOf(plan), size: plan.newSize });

/**
 * Writes a planned file's result to `target`, and closes the planned file. With deferCommit
 * (atomic targets only), returns the complete temporary file for the caller to commit (the
 * planned file closes then); otherwise the result is in place when it returns.
 */
export function applyPlan(planned: PlannedFile, target: WriteTarget, options: WriteOptions = {}): PendingCommit | null {
  const durable = options.fsync !== false;
  const { source } = planned;
  if (target.kind === "in-place" || target.kind === "into") {
    try {
      if (target.kind === "into") fillCopy(source, target.fd, changeOf(planned.plan), target.finishBytes);
      else changeInPlace(source, changeOf(planned.plan), durable);
    } finally {
      source.close();
    }
    return null;
  }
  let pending: PendingCommit;
  try {
    pending = prepareChangedCopy(source, target.path, changeOf(planned.plan), durable);
  } catch (e) {
    source.close();
    throw e;
  }
  if (options.deferCommit) return pending;
  commitSync(pending);
  return null;
}

/**
 * Plans `edits` on one file and, unless it is a dry run, writes the result. A file that
 * the edits do not change is not written (with `output`, it is copied there). Throws
 * PatchError, ElfError or a system error; the input is never left half-written.
 */
export function patchFile(path: string, edits: readonly Edit[] | ((elf: ElfFile) => readonly Edit[]), options: PatchOptions = {}): PatchResult {
  const policy = options.policy ?? {};
  const real = realPath(path);
  const storeDir = policy.storeDir ?? process.env.NIX_STORE_DIR ?? "/nix/store";
  const dest = options.output !== undefined ? options.output : real;
  const destReal = options.output !== undefined ? resolve(options.output) : real;
  if (!policy.force && !options.dryRun && inStore(destReal, storeDir)) {
    throw blameOutput(options.output, new PatchError(`is inside the Nix store (${storeDir}); store paths are immutable (use --force to rewrite anyway)`));
  }
  if (policy.within && !policy.within.some((r) => real === r || real.startsWith(r.endsWith("/") ? r : `${r}/`))) {
    throw new ChangedFileError(`is outside the roots now (${real}): a directory on its path was replaced; nothing written`);
  }
  const planned = planFile(path, edits, options.layout, { lock: !options.dryRun });
  const { plan, source } = planned;
  const want = policy.expected?.[path];
  if (want !== undefined && `${source.stat.dev}:${source.stat.ino}` !== want) {
    source.close();
    throw new ChangedFileError("is not the file that was planned and checked (replaced since); nothing written");
  }
  const base = { path, dest, plan, identity: source.identity, links: Number(source.stat.nlink) };
  if (options.dryRun || (plan.writes.length === 0 && options.output === undefined)) {
    source.close();
    return { ...base, written: false };
  }
  const target: WriteTarget = options.inPlace && options.output === undefined ? { kind: "in-place" } : { kind: "atomic", path: destReal };
  let pending: PendingCommit | null;
  try {
    pending = applyPlan(planned, target, options.write);
  } catch (e) {
    throw blameOutput(options.output, e);
  }
  return { ...base, written: true, ...(pending ? { pending } : {}) };
}
