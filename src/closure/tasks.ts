// The per-item functions the worker pool runs, by name. Each lives in its own module and is
// loaded on first use, so a thread hashing libraries never loads the rewriter (and its
// native addon), and the reverse.
import type { ScanRecord } from "../inspect/inspect.js";
import type { PatchPlan } from "../patch/plan.js";
import type { PendingCommit } from "../patch/write.js";
import { describeError } from "./describe-error.js";

export { describeError };

/** What happened to one file in `scan`. Non-ELF files are `skip`, reported by no one. */
export type ScanOutcome =
  | { kind: "elf"; record: ScanRecord }
  | { kind: "skip" }
  | { kind: "error"; path: string; message: string };

export type HashOutcome = { kind: "hash"; path: string; hash: string } | { kind: "error"; path: string; message: string };

/** What `patch` reports of one file: the plan's summary (JSON-ready), not its bytes. */
export type PatchRecord = Omit<PatchPlan, "writes" | "segment"> & {
  path: string;
  dest: string;
  changed: boolean;
  written: boolean;
  growth: number;
  /** The new PT_LOAD, its address in hex. */
  segment: { offset: number; vaddr: string; size: number; flags: string } | null;
  /** A temporary file the caller must commit (fsync and rename): see PatchOptions.deferCommit. */
  pending?: PendingCommit;
};

export type PatchOutcome = { kind: "patched"; record: PatchRecord } | { kind: "error"; path: string; message: string };

export interface TaskResults {
  scan: ScanOutcome;
  hash: HashOutcome;
  patch: PatchOutcome;
}
export type TaskName = keyof TaskResults;
export type TaskResult<T extends TaskName> = TaskResults[T];
export type TaskFunction<T extends TaskName> = (item: string, context: unknown) => TaskResult<T>;

const loaders: { [T in TaskName]: () => Promise<TaskFunction<T>> } = {
  scan: async () => (await import("./task-scan.js")).scanOne,
  hash: async () => (await import("./task-hash.js")).hashOne,
  patch: async () => (await import("./task-patch.js")).patchOne,
};

const loaded = new Map<TaskName, Promise<TaskFunction<TaskName>>>();

/** The function for `task`, its module loaded on first use (once per thread). */
export function loadTask<T extends TaskName>(task: T): Promise<TaskFunction<T>> {
  let p = loaded.get(task);
  if (!p) loaded.set(task, (p = loaders[task]() as Promise<TaskFunction<TaskName>>));
  return p as Promise<TaskFunction<T>>;
}
