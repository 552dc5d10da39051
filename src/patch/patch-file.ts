// One file: planned (the file opened and parsed once), then the plan applied to a target.
// Planning and applying are separate so that a caller can plan a file and write the result
// anywhere: into the file itself, atomically over it, or as a new file in another tree.
import { realpathSync, statSync, type Stats } from "node:fs";
import { resolve, sep } from "node:path";
import type { ElfFile } from "../elf/index.js";
import { NotElfError, PatchError } from "../errors.js";
import { changeInPlace, commitSync, prepareChangedCopy, type FileChange, type PendingCommit } from "../io/atomic-write.js";
import { withElfFile } from "../io/file-source.js";
import type { Edit } from "./edits.js";
import { planPatch, shiftOf, type PatchPlan, type PlanOptions } from "./plan.js";

/** A plan for one file, with what it was made from. */
export interface PlannedFile {
  /** The name given. */
  path: string;
  /** The file itself (symbolic links resolved). */
  real: string;
  stat: Stats;
  plan: PatchPlan;
}

/** Where a plan's result goes. */
export type WriteTarget =
  /** Into the file's own inode (keeps hard links; not atomic), as patchelf does. */
  | { kind: "in-place" }
  /** A complete new file renamed over `path`: the input itself, or a path in another tree. */
  | { kind: "atomic"; path: string };

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
  /** With write.deferCommit: the temporary file still to be committed. */
  pending?: PendingCommit;
}

/** True when `path` (resolved) lies inside `storeDir`. */
export function inStore(path: string, storeDir: string): boolean {
  const dir = resolve(storeDir);
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/**
 * Opens `path` once, parses it, and plans `edits` (or the edits `editsFor` derives from the
 * parsed file, e.g. patchelf's --shrink-rpath). Throws PatchError, ElfError or a system error.
 */
export function planFile(
  path: string,
  edits: readonly Edit[] | ((elf: ElfFile) => readonly Edit[]),
  options: PlanOptions = {},
): PlannedFile {
  const real = realpathSync(path);
  const stat = statSync(real);
  if (!stat.isFile()) throw new PatchError("not a regular file");
  const plan = withElfFile(real, (elf) => planPatch(elf, typeof edits === "function" ? edits(elf) : edits, options));
  if (plan === null) throw new NotElfError("not an ELF file (bad magic)");
  return { path, real, stat, plan };
}

/** The byte changes of a plan. */
const changeOf = (plan: PatchPlan): FileChange => ({ writes: plan.writes, shift: shiftOf(plan) });

/**
 * Writes a planned file's result to `target`. With deferCommit (atomic targets only), returns
 * the complete temporary file for the caller to commit; otherwise the result is in place
 * when it returns.
 */
export function applyPlan(planned: PlannedFile, target: WriteTarget, options: WriteOptions = {}): PendingCommit | null {
  const durable = options.fsync !== false;
  if (target.kind === "in-place") {
    changeInPlace(planned.real, changeOf(planned.plan), durable);
    return null;
  }
  const pending = prepareChangedCopy(planned.real, target.path, changeOf(planned.plan), planned.stat, durable);
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
  const real = realpathSync(path);
  const storeDir = policy.storeDir ?? process.env.NIX_STORE_DIR ?? "/nix/store";
  const dest = options.output !== undefined ? options.output : real;
  const destReal = options.output !== undefined ? resolve(options.output) : real;
  if (!statSync(real).isFile()) throw new PatchError("not a regular file");
  if (!policy.force && !options.dryRun && inStore(destReal, storeDir)) {
    throw new PatchError(`is inside the Nix store (${storeDir}); store paths are immutable (use --force to rewrite anyway)`);
  }
  const planned = planFile(path, edits, options.layout);
  const { plan } = planned;
  if (options.dryRun) return { path, dest, plan, written: false };
  if (plan.writes.length === 0 && options.output === undefined) return { path, dest, plan, written: false };
  const target: WriteTarget = options.inPlace && options.output === undefined ? { kind: "in-place" } : { kind: "atomic", path: destReal };
  const pending = applyPlan(planned, target, options.write);
  return { path, dest, plan, written: true, ...(pending ? { pending } : {}) };
}
