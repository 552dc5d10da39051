import { parentPort } from "node:worker_threads";
import type { PoolBatch, PoolReply } from "./pool.js";
import { tasks } from "./tasks.js";

// One worker of runOrdered: takes batches of items, answers with one result per item.
parentPort!.on("message", (batch: PoolBatch) => {
  const run = tasks[batch.task] as (item: string, context: unknown) => unknown;
  const reply: PoolReply = { seq: batch.seq, results: batch.items.map((item) => run(item, batch.context)) };
  parentPort!.postMessage(reply);
});
