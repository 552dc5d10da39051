import { parentPort } from "node:worker_threads";
import { scanOne, type ScanBatch, type ScanBatchResult } from "./scan.js";

// One worker of `scan`: takes batches of paths, answers with one outcome per path.
parentPort!.on("message", (batch: ScanBatch) => {
  const result: ScanBatchResult = { seq: batch.seq, outcomes: batch.paths.map(scanOne) };
  parentPort!.postMessage(result);
});
