import { Worker } from "node:worker_threads";
import { loadTask, runBatch, type TaskName, type TaskResult } from "./tasks.js";

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
 * thread wait to be delivered.
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
  const stopped = () => options.stop?.() === true;
  // The first items (all of them with one job) run on this thread, in batches of `size`,
  // so that a task's finish step (patch's commits) serves many items at once.
  let n = 0;
  while (n < inline) {
    const want = Math.min(size, inline - n);
    const chunk: string[] = [];
    let ended = false;
    while (chunk.length < want) {
      const r = stopped() ? null : items.next();
      if (!r || r.done) {
        ended = true;
        break;
      }
      chunk.push(r.value);
    }
    if (chunk.length > 0) {
      for (const r of await runBatch(fn, chunk, options.context)) deliver(r);
      n += chunk.length;
      options.onBatch?.();
      // A turn of the event loop between batches: signal handlers run there.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (ended) return;
  }

  // This thread works too; `jobs - 1` workers help it. A worker needs time to start and
  // load its modules: batches queue for it meanwhile, and this thread keeps working, so
  // the start-up costs no wall time on an idle core.
  const workers = Array.from({ length: jobs - 1 }, () => new Worker(new URL("./pool-worker.js", import.meta.url)));
  const pending = new Map<number, unknown[]>();
  const inflight = new Map<Worker, number>(workers.map((w) => [w, 0]));
  let nextSeq = 0;
  let nextToDeliver = 0;
  let done = false;
  let failure: unknown = null;
  let wake: (() => void) | null = null;

  const flush = () => {
    while (pending.has(nextToDeliver)) {
      for (const x of pending.get(nextToDeliver)!) deliver(x as TaskResult<T>);
      pending.delete(nextToDeliver++);
    }
  };
  const perWorker = Math.max(4, Math.ceil(QUEUED_ITEMS / size));
  const maxAhead = Math.max(16, Math.ceil(AHEAD_ITEMS / size));
  const takeBatch = (): PoolBatch | null => {
    const batch: string[] = [];
    while (batch.length < size) {
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
    return batch.length > 0 ? { seq: nextSeq++, task, items: batch, context: options.context } : null;
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
        const b = takeBatch();
        if (!b) break;
        w.postMessage(b);
        inflight.set(w, inflight.get(w)! + 1);
        dealt = true;
      }
    }
  };
  for (const w of workers) {
    w.on("error", (e) => {
      failure = e;
      wake?.();
    });
    w.on("message", (r: PoolReply) => {
      inflight.set(w, inflight.get(w)! - 1);
      pending.set(r.seq, r.results);
      flush();
      options.onBatch?.();
      wake?.();
    });
  }
  try {
    for (;;) {
      if (failure) throw failure;
      pump();
      if (room()) {
        const b = takeBatch();
        if (b) {
          pending.set(b.seq, await runBatch(fn, b.items, options.context));
          flush();
          // A look at the event loop between batches lets finished workers report.
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
      }
      if (done && nextToDeliver === nextSeq) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
