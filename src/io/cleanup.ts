// Temporary files in flight in this thread, so that an interrupted run removes them: a
// signal handler (installed by the commands that write) calls removeTemporaries.
import { closeSync, rmdirSync, unlinkSync } from "node:fs";

interface Temporary {
  destDirFd: number;
  workDirFd: number;
  workDirName: string;
  tmpFd: number;
}

const live = new Set<Temporary>();

export function rememberTemporary(t: Temporary): void {
  live.add(t);
}

export function forgetTemporary(t: Temporary): void {
  live.delete(t);
}

/** Removes every temporary file and private directory this thread still has. */
export function removeTemporaries(): number {
  let n = 0;
  for (const t of [...live]) {
    live.delete(t);
    for (const name of ["f", "l"]) {
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
    for (const fd of [t.tmpFd, t.workDirFd, t.destDirFd]) {
      try {
        closeSync(fd);
      } catch {
        // closed
      }
    }
  }
  return n;
}
