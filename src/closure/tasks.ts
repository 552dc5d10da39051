// The per-item functions the worker pool runs, by name. Each lives in its own module and is
// loaded on first use, so a thread hashing libraries never loads the rewriter (and its
// native addon), and the reverse.
import type { HashOutcome, PatchOutcome, ScanOutcome } from "./outcomes.js";

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
