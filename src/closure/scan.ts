import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ElfError } from "../elf/index.js";
import { summarizeIfElf, type ScanRecord } from "../inspect/inspect.js";
import { walkFiles } from "./walk.js";

export type { ScanRecord };

/** What happened to one file. Non-ELF files are `skip`, reported by no one. */
export type ScanOutcome =
  | { kind: "elf"; record: ScanRecord }
  | { kind: "skip" }
  | { kind: "error"; path: string; message: string };

export interface ScanBatch {
  seq: number;
  paths: string[];
}

export interface ScanBatchResult {
  seq: number;
  outcomes: ScanOutcome[];
}

export interface ScanOptions {
  /** Worker threads; 1 runs everything on the calling thread. Defaults to the number of cores. */
  jobs?: number;
  /** Called once per ELF file, in walk order (see walkFiles). */
  onRecord: (record: ScanRecord) => void;
  /** Called for unreadable files or directories and malformed ELF files. */
  onError: (path: string, message: string) => void;
  /** Called now and then with running totals. */
  onProgress?: (totals: ScanTotals) => void;
}

export interface ScanTotals {
  files: number;
  elf: number;
  errors: number;
}

/** One line describing a failure: the ELF error's own message, or the system error code and text. */
export function describeError(e: unknown): string {
  if (e instanceof ElfError || (e instanceof Error && e.name === "ManifestError")) return e.message;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === "string") return `${err.code}: ${err.message.replace(/^\w+: /, "")}`;
  return String((e as Error)?.message ?? e);
}

/** Scans one path; never throws. */
export function scanOne(path: string): ScanOutcome {
  try {
    const record = summarizeIfElf(path);
    return record ? { kind: "elf", record } : { kind: "skip" };
  } catch (e) {
    return { kind: "error", path, message: describeError(e) };
  }
}

const BATCH = 128;
const PER_WORKER = 4;
const INLINE_FILES = 2000;
const MAX_AHEAD = 16;

/**
 * Walks `roots` and reports every ELF file found, recognised by content. Parsing
 * runs on `jobs` worker threads while this thread walks the tree; results are
 * delivered in walk order whatever order the workers finish in.
 */
export async function scan(roots: readonly string[], options: ScanOptions): Promise<ScanTotals> {
  const totals: ScanTotals = { files: 0, elf: 0, errors: 0 };
  const walkError = (path: string, e: NodeJS.ErrnoException) => {
    totals.errors++;
    options.onError(path, describeError(e));
  };
  const deliver = (o: ScanOutcome) => {
    totals.files++;
    if (o.kind === "elf") {
      totals.elf++;
      options.onRecord(o.record);
    } else if (o.kind === "error") {
      totals.errors++;
      options.onError(o.path, o.message);
    }
  };
  const jobs = Math.max(1, Math.floor(options.jobs ?? availableParallelism()));
  const files = walkFiles(roots, { onError: walkError });

  // Small trees finish on this thread before worker threads would have started; a large
  // one carries on in workers from where this thread stopped, so the order is unchanged.
  const inline = jobs === 1 ? Infinity : INLINE_FILES;
  let n = 0;
  while (n < inline) {
    const r = files.next();
    if (r.done) return totals;
    deliver(scanOne(r.value));
    if (++n % 1024 === 0) options.onProgress?.(totals);
  }

  const workers = Array.from(
    { length: jobs },
    () => new Worker(new URL("./scan-worker.js", import.meta.url)),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const pending = new Map<number, ScanOutcome[]>();
      const inflight = new Map<Worker, number>(workers.map((w) => [w, 0]));
      let nextSeq = 0;
      let nextToDeliver = 0;
      let walkDone = false;

      const takeBatch = (): ScanBatch | null => {
        const paths: string[] = [];
        while (paths.length < BATCH) {
          const r = files.next();
          if (r.done) {
            walkDone = true;
            break;
          }
          paths.push(r.value);
        }
        return paths.length > 0 ? { seq: nextSeq++, paths } : null;
      };
      // Keep a few batches queued at every worker so none waits on this thread, and bound
      // the reorder buffer: a slow batch holds back at most MAX_AHEAD finished ones.
      const pump = () => {
        for (const w of workers) {
          while (!walkDone && inflight.get(w)! < PER_WORKER && nextSeq - nextToDeliver < MAX_AHEAD * jobs) {
            const b = takeBatch();
            if (!b) break;
            w.postMessage(b);
            inflight.set(w, inflight.get(w)! + 1);
          }
        }
        if (walkDone && nextToDeliver === nextSeq) resolve();
      };
      for (const w of workers) {
        w.on("error", reject);
        w.on("message", (r: ScanBatchResult) => {
          inflight.set(w, inflight.get(w)! - 1);
          pending.set(r.seq, r.outcomes);
          while (pending.has(nextToDeliver)) {
            for (const o of pending.get(nextToDeliver)!) deliver(o);
            pending.delete(nextToDeliver++);
          }
          options.onProgress?.(totals);
          pump();
        });
      }
      pump();
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return totals;
}
