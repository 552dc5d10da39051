import { parentPort } from "node:worker_threads";
import type { PoolBatch, PoolReply } from "./pool.js";
import { loadTask } from "./tasks.js";

// One worker of runOrdered: takes batches of items, answers with one result per item. The
// task's module is loaded with the first batch that needs it.
const ready = new Map<string, (item: string, context: unknown) => unknown>();
parentPort!.on("message", async (batch: PoolBatch) => {
  let run = ready.get(batch.task);
  if (!run) ready.set(batch.task, (run = await loadTask(batch.task)));
  const reply: PoolReply = { seq: batch.seq, results: batch.items.map((item) => run(item, batch.context)) };
  parentPort!.postMessage(reply);
});
