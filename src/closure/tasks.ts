import { ElfError } from "../elf/index.js";
import { ManifestError } from "../abi/format.js";
import { abiHash } from "../abi/hash.js";
import { loadManifest } from "../abi/load.js";
import { summarizeIfElf, type ScanRecord } from "../inspect/inspect.js";
import type { Edit } from "../patch/edits.js";
import { patchFile, type PatchOptions } from "../patch/patch-file.js";
import { PatchError } from "../patch/plan.js";
import type { PendingCommit } from "../patch/write.js";

/** One line describing a failure: the library's own message, or the system error code and text. */
export function describeError(e: unknown): string {
  if (e instanceof ElfError || e instanceof ManifestError || e instanceof PatchError) return e.message;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === "string") return `${err.code}: ${err.message.replace(/^\w+: /, "")}`;
  return String((e as Error)?.message ?? e);
}

/** What happened to one file in `scan`. Non-ELF files are `skip`, reported by no one. */
export type ScanOutcome =
  | { kind: "elf"; record: ScanRecord }
  | { kind: "skip" }
  | { kind: "error"; path: string; message: string };

/** Scans one path; never throws. */
export function scanOne(path: string): ScanOutcome {
  try {
    const record = summarizeIfElf(path);
    return record ? { kind: "elf", record } : { kind: "skip" };
  } catch (e) {
    return { kind: "error", path, message: describeError(e) };
  }
}

export type HashOutcome = { kind: "hash"; path: string; hash: string } | { kind: "error"; path: string; message: string };

/** Hashes one library or manifest; never throws. */
export function hashOne(path: string): HashOutcome {
  try {
    return { kind: "hash", path, hash: abiHash(loadManifest(path).manifest) };
  } catch (e) {
    return { kind: "error", path, message: describeError(e) };
  }
}

/** What `patch` reports of one file: the plan's summary, not its bytes. */
export interface PatchRecord {
  path: string;
  dest: string;
  changed: boolean;
  written: boolean;
  changes: string[];
  inPlace: boolean;
  oldSize: number;
  newSize: number;
  growth: number;
  segment: { offset: number; vaddr: string; size: number; flags: string } | null;
  shift: number;
  extended: { index: number; bytes: number } | null;
  moved: string[];
  /** A temporary file the caller must commit (fsync and rename): see PatchOptions.deferCommit. */
  pending?: PendingCommit;
}

export type PatchOutcome = { kind: "patched"; record: PatchRecord } | { kind: "error"; path: string; message: string };

/** Patches one file with the edits and options in `context`; never throws. */
export function patchOne(path: string, context: unknown): PatchOutcome {
  const { edits, options } = context as { edits: Edit[]; options: PatchOptions };
  try {
    const { dest, written, plan: p, pending } = patchFile(path, edits, options);
    return {
      kind: "patched",
      record: {
        path,
        dest,
        changed: p.changes.length > 0,
        written,
        changes: p.changes,
        inPlace: p.inPlace,
        oldSize: p.oldSize,
        newSize: p.newSize,
        growth: p.newSize - p.oldSize,
        segment: p.segment ? { ...p.segment, vaddr: `0x${p.segment.vaddr.toString(16)}` } : null,
        shift: p.shift,
        extended: p.extended,
        moved: p.moved,
        ...(pending ? { pending } : {}),
      },
    };
  } catch (e) {
    return { kind: "error", path, message: describeError(e) };
  }
}

/** The per-item functions worker threads can run, by name. */
export const tasks = { scan: scanOne, hash: hashOne, patch: patchOne } as const;
export type TaskName = keyof typeof tasks;
export type TaskResult<T extends TaskName> = ReturnType<(typeof tasks)[T]>;
