// The per-item functions the worker pool runs, by name. Each lives in its own module and is
// loaded on first use, so a thread hashing libraries never loads the rewriter (and its
// native addon), and the reverse.
import type { HashOutcome, PatchOutcome, RelinkOutcome, RelinkWriteOutcome, ScanOutcome, StubOutcome } from "./outcomes.js";

export interface TaskResults {
  scan: ScanOutcome;
  hash: HashOutcome;
  patch: PatchOutcome;
  stub: StubOutcome;
  relink: RelinkOutcome;
  "relink-out": RelinkWriteOutcome;
}
export type TaskName = keyof TaskResults;
export type TaskResult<T extends TaskName> = TaskResults[T];
export type TaskFunction<T extends TaskName> = (item: string, context: unknown) => TaskResult<T>;

/**
 * A task: `run` for each item, then, when the task has one, `finish` once for each batch of
 * items a thread has run, before their results leave it (patch commits its files there, many
 * flushes at once). `finish` may replace results (a commit that failed).
 */
export interface Task<T extends TaskName> {
  run: TaskFunction<T>;
  finish?: (results: TaskResult<T>[], context: unknown) => Promise<void>;
}

const loaders: { [T in TaskName]: () => Promise<Task<T>> } = {
  scan: async () => ({ run: (await import("./task-scan.js")).scanOne }),
  stub: async () => ({ run: (await import("./task-stub.js")).stubOne }),
  relink: async () => ({ run: (await import("./relink.js")).relinkOne }),
  "relink-out": async () => {
    const m = await import("./task-relink-out.js");
    return { run: m.writeOne, finish: m.finishWrites };
  },
  hash: async () => ({ run: (await import("./task-hash.js")).hashOne }),
  patch: async () => {
    const m = await import("./task-patch.js");
    return { run: m.patchOne, finish: m.finishPatches };
  },
};

const loaded = new Map<TaskName, Promise<Task<TaskName>>>();

/** The task, its module loaded on first use (once per thread). */
export function loadTask<T extends TaskName>(task: T): Promise<Task<T>> {
  let p = loaded.get(task);
  if (!p) loaded.set(task, (p = loaders[task]() as unknown as Promise<Task<TaskName>>));
  return p as unknown as Promise<Task<T>>;
}
