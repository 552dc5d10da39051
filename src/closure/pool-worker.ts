import { parentPort } from "node:worker_threads";
import type { PoolBatch, PoolReply } from "./pool.js";
import { loadTask, type Task, type TaskName } from "./tasks.js";

// One worker of runOrdered: takes batches of items, answers with one result per item. The
// task's module is loaded with the first batch that needs it. A batch's items run as soon
// as it arrives; its finish step (patch's commits) runs after the previous batch's, in the
// background, and the reply goes when it is done.
const ready = new Map<string, Promise<Task<TaskName>>>();
let finishing: Promise<void> = Promise.resolve();
parentPort!.on("message", async (batch: PoolBatch) => {
  let loading = ready.get(batch.task);
  if (!loading) ready.set(batch.task, (loading = loadTask(batch.task)));
  const task = await loading;
  const results = batch.items.map((item) => task.run(item, batch.context));
  finishing = finishing.then(async () => {
    if (task.finish) await task.finish(results, batch.context);
    const reply: PoolReply = { seq: batch.seq, results };
    parentPort!.postMessage(reply);
  });
});
