// Temporary files in flight in this thread, so that an interrupted run removes them: a
// signal handler (installed by the commands that write) calls removeTemporaries.
import { closeSync, rmdirSync, unlinkSync } from "node:fs";

/** A private directory and the temporary names in it (see io/atomic-write.ts). */
interface Temporary {
  destDirFd: number;
  workDirFd: number;
  workDirName: string;
  names: Set<string>;
}

const live = new Map<Temporary, () => void>();

/** `forget` runs when the directory is removed here (so its owner stops using it). */
export function rememberTemporary(t: Temporary, forget: () => void): void {
  live.set(t, forget);
}

export function forgetTemporary(t: Temporary): void {
  live.delete(t);
}

/** Removes every temporary file and private directory this thread still has; returns how many directories. */
export function removeTemporaries(): number {
  let n = 0;
  for (const [t, forget] of [...live]) {
    live.delete(t);
    forget();
    for (const name of t.names) {
      try {
        unlinkSync(`/proc/self/fd/${t.workDirFd}/${name}`);
      } catch {
        // not there
      }
    }
    try {
      rmdirSync(`/proc/self/fd/${t.destDirFd}/${t.workDirName}`);
      n++;
    } catch {
      // not ours any more
    }
    for (const fd of [t.workDirFd, t.destDirFd]) {
      try {
        closeSync(fd);
      } catch {
        // closed
      }
    }
  }
  return n;
}
