import { availableParallelism } from "node:os";
import type { ScanRecord } from "../inspect/inspect.js";
import { runOrdered } from "./pool.js";
import { describeError } from "../errors.js";
import { scanOne } from "./task-scan.js";
import type { ScanOutcome } from "./outcomes.js";
import { walkFiles, type WalkOptions } from "./walk.js";

export type { ScanRecord, ScanOutcome };
export { scanOne };

export interface ScanOptions extends Pick<WalkOptions, "exclude" | "oneFileSystem"> {
  /** Worker threads; 1 runs everything on the calling thread. Defaults to the number of cores. */
  jobs?: number;
  /** Called once per ELF file, in walk order (see walkFiles). */
  onRecord: (record: ScanRecord) => void;
  /** Called for unreadable files or directories and malformed ELF files. */
  onError: (path: string, message: string) => void;
  /** Called now and then with running totals. */
  onProgress?: (totals: ScanTotals) => void;
  /** True when nobody wants more records (the reader of the output went away): the walk stops. */
  stop?: () => boolean;
}

export interface ScanTotals {
  files: number;
  elf: number;
  errors: number;
}

/**
 * Walks `roots` and reports every ELF file found, recognised by content. Parsing runs
 * on worker threads while this thread walks the tree; results come in walk order.
 */
export async function scan(roots: readonly string[], options: ScanOptions): Promise<ScanTotals> {
  const totals: ScanTotals = { files: 0, elf: 0, errors: 0 };
  const files = walkFiles(roots, {
    exclude: options.exclude,
    oneFileSystem: options.oneFileSystem,
    onError: (path, e) => {
      totals.errors++;
      options.onError(path, describeError(e));
    },
  });
  await runOrdered(
    "scan",
    files,
    (o) => {
      totals.files++;
      if (o.kind === "elf") {
        totals.elf++;
        options.onRecord(o.record);
      } else if (o.kind === "error") {
        totals.errors++;
        options.onError(o.path, o.message);
      }
    },
    { jobs: options.jobs ?? availableParallelism(), onBatch: () => options.onProgress?.(totals), stop: options.stop },
  );
  return totals;
}
