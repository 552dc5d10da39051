import { statSync } from "node:fs";
import pLimit from "p-limit";
import { describeError } from "../errors.js";
import { commit } from "../io/atomic-write.js";
import type { Edit } from "../patch/edits.js";
import type { PatchOptions } from "../patch/patch-file.js";
import type { PatchOutcome } from "./outcomes.js";
import { runOrdered } from "./pool.js";

export interface PatchFilesOptions {
  /** Threads at work (the calling thread and jobs - 1 workers). */
  jobs: number;
  /** Called for each file, in input order, once its result is in place; `total` counts each inode once. */
  onOutcome: (outcome: PatchOutcome, total: number) => void;
}

/** At most this many commits at once: each holds a file descriptor while its fsync runs. */
const COMMITS = 16;

/**
 * The files, each once: two names for one inode (a repeated argument, a hard link) would
 * otherwise be rewritten by two threads at once. Unreadable names stay, to fail in order.
 */
export function distinctFiles(files: readonly string[]): string[] {
  const seen = new Set<string>();
  return files.filter((f) => {
    try {
      const st = statSync(f);
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) return false;
      seen.add(key);
    } catch {
      // reported by the patch itself
    }
    return true;
  });
}

/**
 * Patches many files on the worker pool. Threads plan each file and write its complete
 * temporary copy; this thread commits them (fsync and rename), many at once, while the
 * threads prepare the next ones. Outcomes come out in input order, each after its file is
 * in place. Returns how many files were handled (each inode once).
 */
export async function patchFiles(files: readonly string[], edits: readonly Edit[], options: PatchOptions, run: PatchFilesOptions): Promise<number> {
  const inputs = distinctFiles(files);
  const atomic = !options.inPlace;
  const taskOptions: PatchOptions = { ...options, write: { ...options.write, deferCommit: atomic } };
  let chain: Promise<void> = Promise.resolve();
  const limit = pLimit(COMMITS);
  await runOrdered(
    "patch",
    inputs[Symbol.iterator](),
    (r) => {
      if (r.kind !== "prepared") {
        chain = chain.then(() => run.onOutcome(r, inputs.length));
        return;
      }
      const committed = limit(() => commit(r.pending)).then(
        (): PatchOutcome => ({ kind: "patched", report: r.report }),
        (e: unknown): PatchOutcome => ({ kind: "error", path: r.report.path, message: describeError(e) }),
      );
      chain = chain.then(async () => run.onOutcome(await committed, inputs.length));
    },
    { jobs: run.jobs, inline: 32, batch: 16, context: { edits, options: taskOptions } },
  );
  await chain;
  return inputs.length;
}
