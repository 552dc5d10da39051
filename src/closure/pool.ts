import { Worker } from "node:worker_threads";
import { tasks, type TaskName, type TaskResult } from "./tasks.js";

export interface PoolBatch {
  seq: number;
  task: TaskName;
  items: string[];
}

export interface PoolReply {
  seq: number;
  results: unknown[];
}

export interface PoolOptions {
  /** Worker threads; 1 runs everything on the calling thread. */
  jobs: number;
  /** Items done on the calling thread before any worker starts: small inputs never pay for worker start-up. */
  inline?: number;
  /** Called after each delivered batch. */
  onBatch?: () => void;
  /** Items per message to a worker: large for cheap items, small for expensive ones. */
  batch?: number;
}

const BATCH = 128;
const PER_WORKER = 4;
const MAX_AHEAD = 16;

/**
 * Runs `task` on every item and delivers the results in input order, whatever order
 * the workers finish in. Items are pulled from the iterator only as workers need them,
 * so a directory walk feeding it runs alongside the work; at most MAX_AHEAD batches per
 * worker wait to be delivered.
 */
export async function runOrdered<T extends TaskName>(
  task: T,
  items: Iterator<string>,
  deliver: (result: TaskResult<T>) => void,
  options: PoolOptions,
): Promise<void> {
  const run = tasks[task] as (item: string) => TaskResult<T>;
  const jobs = Math.max(1, Math.floor(options.jobs));
  const inline = jobs === 1 ? Infinity : (options.inline ?? 64);
  let n = 0;
  while (n < inline) {
    const r = items.next();
    if (r.done) return;
    deliver(run(r.value));
    if (++n % 1024 === 0) options.onBatch?.();
  }

  // A worker takes a few hundred milliseconds to load its modules. Keep working here,
  // yielding now and then, until one says it is ready; only then hand work over.
  const workers = Array.from({ length: jobs }, () => new Worker(new URL("./pool-worker.js", import.meta.url)));
  let ready = false;
  const onReady = (m: unknown) => {
    if (m === "ready") ready = true;
  };
  for (const w of workers) w.on("message", onReady);
  try {
    // One item between looks at the event loop: an expensive item must not keep a ready worker waiting.
    for (let i = 1; !ready; i++) {
      const r = items.next();
      if (r.done) return;
      deliver(run(r.value));
      if (i % 64 === 0) options.onBatch?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const w of workers) w.off("message", onReady);
    await new Promise<void>((resolve, reject) => {
      const pending = new Map<number, unknown[]>();
      const inflight = new Map<Worker, number>(workers.map((w) => [w, 0]));
      let nextSeq = 0;
      let nextToDeliver = 0;
      let done = false;

      const takeBatch = (): PoolBatch | null => {
        const batch: string[] = [];
        while (batch.length < (options.batch ?? BATCH)) {
          const r = items.next();
          if (r.done) {
            done = true;
            break;
          }
          batch.push(r.value);
        }
        return batch.length > 0 ? { seq: nextSeq++, task, items: batch } : null;
      };
      // Keep a few batches queued at every worker so none waits on this thread, dealing
      // them round-robin so that a short input still reaches every worker.
      const pump = () => {
        let dealt = true;
        while (dealt && !done && nextSeq - nextToDeliver < MAX_AHEAD * jobs) {
          dealt = false;
          for (const w of workers) {
            if (done || inflight.get(w)! >= PER_WORKER) continue;
            const b = takeBatch();
            if (!b) break;
            w.postMessage(b);
            inflight.set(w, inflight.get(w)! + 1);
            dealt = true;
          }
        }
        if (done && nextToDeliver === nextSeq) resolve();
      };
      for (const w of workers) {
        w.on("error", reject);
        w.on("message", (r: PoolReply | "ready") => {
          if (r === "ready") return;
          inflight.set(w, inflight.get(w)! - 1);
          pending.set(r.seq, r.results);
          while (pending.has(nextToDeliver)) {
            for (const x of pending.get(nextToDeliver)!) deliver(x as TaskResult<T>);
            pending.delete(nextToDeliver++);
          }
          options.onBatch?.();
          pump();
        });
      }
      pump();
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
