import { commit, commitSync, discard, type PendingCommit } from "../io/atomic-write.js";
import type { Edit } from "../patch/edits.js";
import { blameOutput, patchFile, type PatchOptions } from "../patch/patch-file.js";
import { failure, type PatchOutcome } from "./outcomes.js";

interface PatchContext {
  edits: Edit[];
  options: PatchOptions;
  abort?: Int32Array;
  /** Bytes of temporary copies this thread may hold before committing them (always at least one file). */
  threadBudget?: number;
}

/**
 * Files of this thread written but not committed yet, with their outcomes. They never leave
 * the thread: a descriptor opened in a worker is closed when the worker ends.
 */
const pending = new Map<PatchOutcome, PendingCommit>();
let pendingBytes = 0;

const interrupted = (c: PatchContext) => c.abort !== undefined && Atomics.load(c.abort, 0) !== 0;

/**
 * Patches one file with the edits and options in `context`; never throws. With atomic writes
 * the complete temporary file waits for finishPatches, which commits the batch's files at
 * once (their fsyncs run together).
 */
export function patchOne(path: string, context: unknown): PatchOutcome {
  const c = context as PatchContext;
  if (interrupted(c)) return { kind: "error", path, message: "interrupted; left as it was" };
  try {
    const atomic = !c.options.inPlace && !c.options.dryRun;
    const r = patchFile(path, c.edits, { ...c.options, write: { ...c.options.write, deferCommit: atomic } });
    const { dest, written, plan, identity, links } = r;
    const outcome: PatchOutcome = {
      kind: "patched",
      report: {
        path,
        dest,
        changed: plan.changes.length > 0,
        written,
        changes: plan.changes,
        oldSize: plan.oldSize,
        newSize: plan.newSize,
        growth: plan.newSize - plan.oldSize,
        layout: plan.layout,
        moved: plan.moved,
        identity,
        links,
      },
    };
    if (r.pending) {
      pending.set(outcome, r.pending);
      pendingBytes += plan.newSize;
      // Over the budget: what waits is committed now, one file at a time.
      if (pendingBytes > (c.threadBudget ?? 64 << 20)) {
        for (const [o, p] of pending) {
          try {
            commitSync(p);
          } catch (e) {
            replace(o, failure(o.kind === "patched" ? o.report.path : path, blameOutput(c.options.output, e)));
          }
        }
        pending.clear();
        pendingBytes = 0;
      }
    }
    return outcome;
  } catch (e) {
    return failure(path, e);
  }
}

/** Turns an outcome object into another in place (results are already in the batch's array). */
function replace(o: PatchOutcome, by: PatchOutcome): void {
  for (const k of Object.keys(o)) delete (o as unknown as Record<string, unknown>)[k];
  Object.assign(o, by);
}

/**
 * Commits this thread's waiting files (fsyncs in parallel, then each rename) before the
 * batch's results leave the thread; an interrupted run discards them instead. A failed
 * commit turns that file's outcome into an error; the file is left as it was.
 */
export async function finishPatches(_results: PatchOutcome[], context: unknown): Promise<void> {
  const c = context as PatchContext;
  const batch = [...pending];
  pending.clear();
  pendingBytes = 0;
  await Promise.all(
    batch.map(async ([o, p]) => {
      const path = o.kind === "patched" ? o.report.path : "";
      if (interrupted(c)) {
        discard(p);
        replace(o, { kind: "error", path, message: "interrupted; left as it was" });
        return;
      }
      try {
        await commit(p);
      } catch (e) {
        replace(o, failure(path, blameOutput(c.options.output, e)));
      }
    }),
  );
}
