import { parentPort } from "node:worker_threads";
import type { PoolBatch, PoolReply } from "./pool.js";
import { loadTask, runBatch, type Task, type TaskName } from "./tasks.js";

// One worker of runOrdered: takes batches of items, answers with one result per item. The
// task's module is loaded with the first batch that needs it. Batches are handled one at a
// time, in order (a task's finish step may wait on I/O).
const ready = new Map<string, Task<TaskName>>();
let queue: Promise<void> = Promise.resolve();
parentPort!.on("message", (batch: PoolBatch) => {
  queue = queue.then(async () => {
    let task = ready.get(batch.task);
    if (!task) ready.set(batch.task, (task = await loadTask(batch.task)));
    const reply: PoolReply = { seq: batch.seq, results: await runBatch(task, batch.items, batch.context) };
    parentPort!.postMessage(reply);
  });
});
