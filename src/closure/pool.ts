import { Worker } from "node:worker_threads";
import { loadTask, type TaskName, type TaskResult } from "./tasks.js";

export interface PoolBatch {
  seq: number;
  task: TaskName;
  items: string[];
  /** Passed to the task with every item (e.g. the edits of a patch); structured-cloneable. */
  context?: unknown;
}

export interface PoolReply {
  seq: number;
  results: unknown[];
}

export interface PoolOptions {
  /** Threads at work: the calling thread plus `jobs - 1` workers; 1 runs everything here. */
  jobs: number;
  /** Items done on the calling thread before any worker starts: small inputs never pay for worker start-up. */
  inline?: number;
  /** Called after each delivered batch. */
  onBatch?: () => void;
  /** Items per message to a worker: large for cheap items, small for expensive ones. */
  batch?: number;
  /** Given to the task with every item. */
  context?: unknown;
  /** True once no further item may start (an interrupted run): the pool finishes what it has. */
  stop?: () => boolean;
}

const BATCH = 128;
/**
 * Items queued at each worker and finished items held for in-order delivery. The calling
 * thread deals batches only between its own items, so a worker's queue must outlast the
 * longest item this thread may be busy with (one libLLVM takes as long as a hundred small
 * libraries): the bounds are in items, not batches.
 */
const QUEUED_ITEMS = 64;
const AHEAD_ITEMS = 256;

/**
 * Runs `task` on every item and delivers the results in input order, whatever order
 * the workers finish in. Items are pulled from the iterator only as workers need them,
 * so a directory walk feeding it runs alongside the work; at most maxAhead batches per
 * thread wait to be delivered. A task's finish step (patch's commits) runs once per batch
 * in the thread that ran it, while that thread goes on with the next batch; a batch's
 * results are delivered once it has finished.
 */
export async function runOrdered<T extends TaskName>(
  task: T,
  items: Iterator<string>,
  deliver: (result: TaskResult<T>) => void,
  options: PoolOptions,
): Promise<void> {
  const fn = await loadTask(task);
  const jobs = Math.max(1, Math.floor(options.jobs));
  const inline = jobs === 1 ? Infinity : (options.inline ?? 64);
  const size = options.batch ?? BATCH;
  const perWorker = Math.max(4, Math.ceil(QUEUED_ITEMS / size));
  const maxAhead = Math.max(16, Math.ceil(AHEAD_ITEMS / size));
  const stopped = () => options.stop?.() === true;

  const pending = new Map<number, unknown[]>();
  let nextSeq = 0;
  let nextToDeliver = 0;
  let taken = 0;
  let done = false;
  let failure: unknown = null;
  let wake: (() => void) | null = null;
  const poke = () => wake?.();

  const flush = () => {
    while (pending.has(nextToDeliver)) {
      for (const x of pending.get(nextToDeliver)!) deliver(x as TaskResult<T>);
      pending.delete(nextToDeliver++);
    }
  };
  const takeBatch = (limit: number): PoolBatch | null => {
    const batch: string[] = [];
    while (batch.length < limit) {
      if (stopped()) {
        done = true;
        break;
      }
      const r = items.next();
      if (r.done) {
        done = true;
        break;
      }
      batch.push(r.value);
    }
    taken += batch.length;
    return batch.length > 0 ? { seq: nextSeq++, task, items: batch, context: options.context } : null;
  };

  // This thread's batches: run at once; finished one after the other, in the background.
  let local: Promise<void> = Promise.resolve();
  const runHere = (b: PoolBatch) => {
    const results = b.items.map((item) => fn.run(item, b.context));
    local = local.then(async () => {
      try {
        if (fn.finish) await fn.finish(results, b.context);
        pending.set(b.seq, results);
        flush();
        options.onBatch?.();
      } catch (e) {
        failure = e;
      }
      poke();
    });
  };

  // `jobs - 1` workers help this thread once `inline` items are taken: small inputs never
  // pay for their start-up. A worker needs time to start and load its modules: batches
  // queue for it meanwhile, and this thread keeps working.
  const workers: Worker[] = [];
  const inflight = new Map<Worker, number>();
  const startWorkers = () => {
    for (let i = 0; i < jobs - 1; i++) {
      const w = new Worker(new URL("./pool-worker.js", import.meta.url));
      workers.push(w);
      inflight.set(w, 0);
      w.on("error", (e) => {
        failure = e;
        poke();
      });
      w.on("message", (r: PoolReply) => {
        inflight.set(w, inflight.get(w)! - 1);
        pending.set(r.seq, r.results);
        flush();
        options.onBatch?.();
        poke();
      });
    }
  };
  // Bound the reorder buffer: a slow batch holds back at most this many finished ones.
  const room = () => !done && nextSeq - nextToDeliver < maxAhead * jobs;
  // Keep a few batches queued at every worker, dealt round-robin so a short input reaches all.
  const pump = () => {
    let dealt = true;
    while (dealt && room()) {
      dealt = false;
      for (const w of workers) {
        if (!room() || inflight.get(w)! >= perWorker) continue;
        const b = takeBatch(size);
        if (!b) break;
        w.postMessage(b);
        inflight.set(w, inflight.get(w)! + 1);
        dealt = true;
      }
    }
  };
  try {
    for (;;) {
      if (failure) throw failure;
      if (workers.length === 0 && jobs > 1 && taken >= inline) startWorkers();
      pump();
      if (room()) {
        const b = takeBatch(workers.length === 0 ? Math.min(size, inline - taken) : size);
        if (b) {
          runHere(b);
          // A look at the event loop between batches: finished workers report, signals are handled.
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
      }
      if (done && nextToDeliver === nextSeq) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
    await local;
    if (failure) throw failure;
  } finally {
    await local.catch(() => {});
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
