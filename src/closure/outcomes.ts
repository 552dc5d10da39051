// What the per-file tasks of the worker pool return: plain data (structured-cloneable), so
// that a result crosses from a worker thread unchanged.
import { describeFailure } from "../errors.js";
import type { ScanRecord } from "../inspect/inspect.js";
import type { FileIdentity } from "../io/atomic-write.js";
import type { LayoutDecision } from "../patch/plan.js";

/**
 * A path that failed, as given, and what to print about it: `subject: message`, where the
 * subject is the path at fault when that is not the path itself (an --output file, a
 * manifest's line).
 */
export interface Failure {
  kind: "error";
  path: string;
  message: string;
  subject?: string;
}

/** The failure of `path` with error `e`. */
export function failure(path: string, e: unknown): Failure {
  const { subject, message } = describeFailure(path, e);
  return { kind: "error", path, message, ...(subject !== path ? { subject } : {}) };
}

/** What happened to one file in `scan`. Non-ELF files are `skip`, reported by no one. */
export type ScanOutcome =
  | { kind: "elf"; record: ScanRecord }
  | { kind: "skip" }
  | Failure;

/** A hash, and a warning for stderr when the input is a program rather than a library. */
export type HashOutcome = { kind: "hash"; path: string; hash: string; warning?: string } | Failure;

/** One file of `relink`'s plan: what it becomes, whether it was checked, and the check's refusal. */
export interface RelinkOutcome {
  file: import("./relink.js").RelinkFile | null;
  checked: boolean;
  failure: import("./relink.js").AbiFailure | null;
  /** A dynamic file's links, for what the check cannot see (relink.ts: `unchecked`). */
  links?: import("./relink.js").FileLinks;
}

/**
 * One file of `relink --out`'s tree: written, with what the plan says of it (null: not a
 * program or library), its references of NEW's length rewritten and the others listed; or why not.
 */
export type RelinkWriteOutcome =
  | { kind: "written"; path: string; file: import("./relink.js").RelinkFile | null; rewritten: number; remaining: { path: string; offset: number; old: string }[] }
  | Failure;

/** One input of `stub`: the stub's bytes (SONAME null when the manifest has none), or a linker script to expand. */
export type StubOutcome =
  | { kind: "stub"; path: string; soname: string | null; bytes: Uint8Array }
  | { kind: "script"; path: string; text: string }
  | Failure;

/** What `patch` reports of one file: the plan's summary, not its bytes. */
export interface PatchReport {
  path: string;
  /** Where the result went (the input, or --output). */
  dest: string;
  changed: boolean;
  written: boolean;
  changes: string[];
  oldSize: number;
  newSize: number;
  growth: number;
  layout: LayoutDecision;
  /** Sections moved or slid, by name. */
  moved: string[];
  /** The file as planned from (its inode, size and time). */
  identity: FileIdentity;
  /** How many names its inode had. */
  links: number;
  /** Names of the old file that were not given: atomic writes leave them on the old contents. */
  otherNames?: number;
  /** For a second name of one file: the name it was patched as. */
  hardLinkOf?: string;
}

export type PatchOutcome = { kind: "patched"; report: PatchReport } | Failure;
