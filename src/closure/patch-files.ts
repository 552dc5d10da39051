import { statSync } from "node:fs";
import { PatchError, describeError } from "../errors.js";
import { relinkName } from "../io/atomic-write.js";
import { fsPath, realPath } from "../io/paths.js";
import type { Edit } from "../patch/edits.js";
import { inStore, type PatchOptions } from "../patch/patch-file.js";
import type { PatchOutcome, PatchReport } from "./outcomes.js";
import { runOrdered } from "./pool.js";

export interface PatchFilesOptions {
  /** Threads at work (the calling thread and jobs - 1 workers). */
  jobs: number;
  /** Called for each name given, in input order, once its result is in place. */
  onOutcome: (outcome: PatchOutcome, total: number) => void;
  /**
   * A flag (on a SharedArrayBuffer, so worker threads see it) that an interrupted run sets:
   * no new file starts; what a thread is writing is finished or removed.
   */
  abort?: Int32Array;
}

/** The names given, grouped by the file (inode) they name: the first name is patched, the others follow it. */
interface FileGroup {
  names: string[];
  /** Each name's place among the names given. */
  at: number[];
  size: number;
}

function groupByInode(files: readonly string[]): FileGroup[] {
  const byInode = new Map<string, FileGroup>();
  const groups: FileGroup[] = [];
  files.forEach((f, at) => {
    let key: string | null = null;
    let size = 0;
    try {
      const st = statSync(fsPath(f));
      key = `${st.dev}:${st.ino}`;
      size = st.size;
    } catch {
      // reported by the patch itself
    }
    const g = key !== null ? byInode.get(key) : undefined;
    if (g) {
      g.names.push(f);
      g.at.push(at);
    } else {
      const ng = { names: [f], at: [at], size };
      groups.push(ng);
      if (key !== null) byInode.set(key, ng);
    }
  });
  return groups;
}

/**
 * Patches many files on the worker pool. Each thread plans and writes the files of a batch,
 * then commits them together (their fsyncs run at once, then each rename). Temporary copies
 * in flight are bounded: twice the largest file in all (each thread commits early when its
 * share is used up), and never more than one file per thread beyond that.
 * Outcomes come out in input order, each after its file is in place. Two names of one file
 * are patched once: in the default (atomic) mode every other given name is then linked to
 * the new file; in place, they share it anyway. Returns how many names were handled.
 */
export async function patchFiles(files: readonly string[], edits: readonly Edit[], options: PatchOptions, run: PatchFilesOptions): Promise<number> {
  const groups = groupByInode(files);
  const total = files.length;
  const atomic = !options.inPlace && !options.dryRun;
  const aborted = () => run.abort !== undefined && Atomics.load(run.abort, 0) !== 0;
  // Outcomes are held until every name before them has its own: they come out in input order.
  const held: (PatchOutcome | undefined)[] = new Array(total);
  let nextOut = 0;
  const emit = (at: number, o: PatchOutcome) => {
    held[at] = o;
    while (nextOut < total && held[nextOut] !== undefined) {
      run.onOutcome(held[nextOut]!, total);
      held[nextOut++] = undefined;
    }
  };
  // Names of the old file nobody gave: an atomic write leaves them on the old contents.
  const others = (r: PatchReport, g: FileGroup) => (atomic && r.written ? Math.max(0, r.links - new Set(g.names).size) : 0);
  // The other names of a patched file: relinked to the new file (atomic), or reported as sharing it.
  const followers = (first: PatchReport, g: FileGroup) => {
    g.names.forEach((name, k) => {
      if (k === 0) return;
      try {
        const real = realPath(name);
        const same = real === realPath(first.path);
        const alike: PatchReport = { ...first, path: name, dest: real, otherNames: others(first, g), ...(same ? {} : { hardLinkOf: first.path }) };
        if (atomic && first.written && !same) {
          const storeDir = options.policy?.storeDir ?? process.env.NIX_STORE_DIR ?? "/nix/store";
          if (!options.policy?.force && inStore(real, storeDir)) throw new PatchError(`is inside the Nix store (${storeDir}); store paths are immutable (use --force to rewrite anyway)`);
          if (!relinkName(first.dest, name, first.identity)) {
            emit(g.at[k]!, { kind: "error", path: name, message: `no longer names the file patched as ${first.path}; left as it is` });
            return;
          }
        }
        emit(g.at[k]!, { kind: "patched", report: alike });
      } catch (e) {
        emit(g.at[k]!, { kind: "error", path: name, message: `${describeError(e)} (its other name ${first.path} was patched)` });
      }
    });
  };
  // The pool delivers results in the order of its items: the k-th result is the k-th group's.
  let delivered = 0;
  await runOrdered(
    "patch",
    groups.map((g) => g.names[0]!)[Symbol.iterator](),
    (r) => {
      const g = groups[delivered++]!;
      if (r.kind === "error") {
        g.names.forEach((name, k) => emit(g.at[k]!, { ...r, path: name }));
        return;
      }
      emit(g.at[0]!, { ...r, report: { ...r.report, otherNames: others(r.report, g) } });
      followers(r.report, g);
    },
    {
      jobs: run.jobs,
      inline: 32,
      batch: 16,
      // Twice the largest file in all: each thread holds at most half its share waiting and
      // half being committed (always at least the file at hand).
      context: { edits, options, abort: run.abort, threadBudget: groups.reduce((m, g) => Math.max(m, g.size), 0) / Math.max(1, run.jobs) },
      stop: aborted,
    },
  );
  return total;
}
