import { realpathSync, statSync } from "node:fs";
import { resolve, sep } from "node:path";
import { NotElfError } from "../elf/index.js";
import { withElfFile } from "../io/file-source.js";
import type { Edit } from "./edits.js";
import { PatchError, planPatch, type Layout, type PatchPlan } from "./plan.js";
import { preparePatchedCopy, writeInPlace, writePatchedCopy, type PendingCommit } from "./write.js";

export interface PatchOptions {
  /** Write the result here instead of replacing the input. */
  output?: string;
  /** Write into the input's own inode (keeps hard links; not atomic), as patchelf does. */
  inPlace?: boolean;
  /** Plan only. */
  dryRun?: boolean;
  /** Allow rewriting files inside the Nix store. */
  force?: boolean;
  /** The Nix store directory (default: $NIX_STORE_DIR or /nix/store). */
  storeDir?: string;
  /**
   * Atomic writes only: return the written temporary file as `pending` instead of fsyncing
   * and renaming it; the caller finishes with commitPatchedCopy (many files then flush together).
   */
  deferCommit?: boolean;
  /**
   * fsync each file before it replaces the old one (default true). Off where durability is
   * handled elsewhere: a build sandbox whose output is discarded if the machine fails.
   * Atomicity does not depend on it: readers and a killed run still see old or new.
   */
  fsync?: boolean;
  /** Smallest alignment of a new segment (patchelf's --page-size); the file's own p_align wins when larger. */
  pageSize?: number;
  /** Where what grows goes (see PlanOptions.layout). */
  layout?: Layout;
}

export interface PatchResult {
  path: string;
  /** Where the result went (the input, or `output`). */
  dest: string;
  plan: PatchPlan;
  /** Whether anything was written. */
  written: boolean;
  /** With deferCommit: the temporary file still to be committed. */
  pending?: PendingCommit;
}

/** True when `path` (resolved) lies inside `storeDir`. */
export function inStore(path: string, storeDir: string): boolean {
  const dir = resolve(storeDir);
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/**
 * Plans `edits` on one file and, unless it is a dry run, writes the result. A file that
 * the edits do not change is not written (with `output`, it is copied there). Throws
 * PatchError, ElfError or a system error; the input is never left half-written.
 */
export function patchFile(path: string, edits: readonly Edit[], options: PatchOptions = {}): PatchResult {
  const real = realpathSync(path);
  const st = statSync(real);
  if (!st.isFile()) throw new PatchError("not a regular file");
  const storeDir = options.storeDir ?? process.env.NIX_STORE_DIR ?? "/nix/store";
  const dest = options.output !== undefined ? options.output : real;
  const destReal = options.output !== undefined ? resolve(options.output) : real;
  if (!options.force && !options.dryRun && inStore(destReal, storeDir)) {
    throw new PatchError(`is inside the Nix store (${storeDir}); store paths are immutable (use --force to rewrite anyway)`);
  }
  const plan = withElfFile(real, (elf) => planPatch(elf, edits, { pageSize: options.pageSize, layout: options.layout }));
  if (plan === null) throw new NotElfError("not an ELF file (bad magic)");
  if (options.dryRun) return { path, dest, plan, written: false };
  if (plan.writes.length === 0 && options.output === undefined) return { path, dest, plan, written: false };
  const durable = options.fsync !== false;
  if (options.inPlace && options.output === undefined) writeInPlace(real, plan, durable);
  else if (options.deferCommit) {
    return { path, dest, plan, written: true, pending: preparePatchedCopy(real, destReal, plan, st, durable) };
  } else writePatchedCopy(real, destReal, plan, st, durable);
  return { path, dest, plan, written: true };
}
