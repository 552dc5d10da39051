import { removeTemporaries } from "../io/cleanup.js";
import { warn } from "./output.js";

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

/**
 * Runs `work` so that SIGINT, SIGTERM and SIGHUP stop it cleanly: the flag tells the work
 * to start nothing new and discard what it has not committed; every temporary file goes;
 * the status is 128 + the signal's number. A second signal leaves at once (after removing
 * this thread's temporary files).
 */
export async function interruptible(work: (abort: Int32Array) => Promise<number>): Promise<number> {
  const abort = new Int32Array(new SharedArrayBuffer(4));
  let caught: keyof typeof SIGNALS | null = null;
  const handlers = Object.keys(SIGNALS).map((name) => {
    const sig = name as keyof typeof SIGNALS;
    const h = () => {
      if (caught !== null) {
        removeTemporaries();
        process.exit(128 + SIGNALS[sig]);
      }
      caught = sig;
      Atomics.store(abort, 0, 1);
      warn(sig, "stopping: files not yet written are left as they were");
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  try {
    const status = await work(abort);
    return caught !== null ? 128 + SIGNALS[caught] : status;
  } finally {
    removeTemporaries();
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}

