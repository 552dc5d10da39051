// A symbolic link given a new target atomically: the new link is made in the private
// directory beside it (atomic-write.ts), given the old link's owner where permitted, and
// renamed over the old one, which must still be the planned link with the planned target.
// The old link is never followed: only its own name is replaced.
import { lchownSync, lstatSync, readlinkSync, renameSync, symlinkSync, unlinkSync } from "node:fs";
import { ChangedFileError, InputError } from "../errors.js";
import { acquireWorkDir, releaseWorkDir } from "./atomic-write.js";
import { fdPath, fsPath } from "./paths.js";

/**
 * Replaces the symbolic link `path` (whose target is now `expected`) by one pointing at
 * `target`. Throws ChangedFileError when `path` is no longer a link to `expected`; nothing
 * is changed then. Readers see the old link or the new one, never neither.
 */
export function replaceSymlink(path: string, expected: Uint8Array, target: Uint8Array): void {
  const at = path.lastIndexOf("/");
  const dir = at < 0 ? "." : at === 0 ? "/" : path.slice(0, at);
  const name = path.slice(at + 1);
  if (name === "" || name === "." || name === "..") throw new InputError("not a file name");
  const work = acquireWorkDir(dir);
  const tmp = `s${work.next++}`;
  const there = `${fdPath(work.destDirFd)}/`;
  try {
    const before = lstatSync(fsPath(there + name), { bigint: true });
    const same = (st: typeof before) => st.isSymbolicLink() && st.ino === before.ino && st.dev === before.dev;
    const unchanged = () => same(lstatSync(fsPath(there + name), { bigint: true })) && Buffer.from(readlinkSync(fsPath(there + name), { encoding: "buffer" })).equals(expected);
    if (!before.isSymbolicLink() || !unchanged()) throw new ChangedFileError("is no longer the symbolic link that was planned from; nothing was written (run again)");
    symlinkSync(Buffer.from(target), `${fdPath(work.workDirFd)}/${tmp}`);
    work.names.add(tmp);
    try {
      lchownSync(`${fdPath(work.workDirFd)}/${tmp}`, Number(before.uid), Number(before.gid));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EPERM") throw e;
    }
    if (!unchanged()) throw new ChangedFileError("was changed by another program while being rewritten; nothing was written (run again)");
    renameSync(`${fdPath(work.workDirFd)}/${tmp}`, fsPath(there + name));
    work.names.delete(tmp);
  } finally {
    if (work.names.delete(tmp)) {
      try {
        unlinkSync(`${fdPath(work.workDirFd)}/${tmp}`);
      } catch {
        // already gone
      }
    }
    releaseWorkDir(work);
  }
}
