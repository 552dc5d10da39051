import { readdirSync, statSync } from "node:fs";
import { InputError, UsageError } from "../errors.js";
import { compileGlobs } from "../glob.js";
import { fsPath, pathFromBytes } from "../io/paths.js";

export interface WalkOptions {
  /** Called for a directory or root that cannot be read; the walk goes on. */
  onError?: (path: string, error: NodeJS.ErrnoException) => void;
  /** Globs of files and directories to leave out (see excludeMatcher); an excluded directory is not entered. */
  exclude?: readonly string[];
  /** Enter only directories on the device of the root they were reached from (find -xdev, du -x). */
  oneFileSystem?: boolean;
}

/**
 * The test `walkFiles` applies for `exclude`. A glob without a slash matches a base name,
 * like `find -name` and rsync (`*.debug`, `share`); a glob with a slash matches the whole
 * path as walked, which is the root as given joined with the path below it, as scan prints
 * it (`/usr/lib/debug`, `/nix/store/*-doc`). `*` also matches names starting with a dot, and
 * a leading `!` is a literal character, not a negation. Null when there is no glob. Throws
 * UsageError for a glob that is empty, ends in a slash (no path does, so it would never
 * match) or is too long for picomatch.
 */
export function excludeMatcher(globs: readonly string[]): ((path: string) => boolean) | null {
  const compile = (gs: string[]) => compileGlobs(gs) ?? (() => false);
  for (const g of globs) {
    if (g === "") throw new UsageError("a glob cannot be empty");
    if (g.endsWith("/")) throw new UsageError("no path ends in a slash, so it would never match: leave the slash out");
  }
  if (globs.length === 0) return null;
  const byName = compile(globs.filter((g) => !g.includes("/")));
  const byPath = compile(globs.filter((g) => g.includes("/")));
  return (path) => byPath(path) || byName(path.slice(path.lastIndexOf("/") + 1));
}

/**
 * Yields the regular files below `roots` in a stable order: each directory's files
 * by name (byte order), then its subdirectories by name, depth first. Names are kept
 * byte for byte, whatever their encoding (see io/paths.ts). Symbolic links below a root are never followed, files or directories,
 * so the walk cannot leave the roots; a root that is itself a link is followed, since
 * the caller named it. Each directory is entered once even if reachable twice (bind mounts).
 * Exclusions apply to the roots too, as in find and tar (`--exclude '*-doc' /nix/store/*`);
 * `oneFileSystem` compares each directory with its own root, so a root on another device
 * than its parent (`/dev/shm`) is still walked.
 */
export function* walkFiles(roots: readonly string[], options: WalkOptions = {}): Generator<string> {
  const seen = new Set<string>();
  const excluded = excludeMatcher(options.exclude ?? []);
  const report = (path: string, e: unknown) => {
    if (options.onError) options.onError(path, e as NodeJS.ErrnoException);
    else throw e;
  };
  for (const root of roots) {
    // A root may end in slashes (`/usr/lib/`); the paths below it never do.
    if (excluded?.(root.replace(/(?<=.)\/+$/, ""))) continue;
    let st;
    try {
      st = statSync(fsPath(root), { bigint: true });
    } catch (e) {
      report(root, e);
      continue;
    }
    if (st.isFile()) {
      yield root;
      continue;
    }
    if (!st.isDirectory()) {
      // A FIFO, socket or device named as a root: said, not silently passed over.
      report(root, new InputError("not a directory or a regular file"));
      continue;
    }
    // An explicit stack keeps deep trees from exhausting the call stack.
    const stack: string[] = [root];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      let entries;
      try {
        const ds = statSync(fsPath(dir), { bigint: true });
        // A mount point is left out before it counts as seen: a later root may be that mount.
        if (options.oneFileSystem && ds.dev !== st.dev) continue;
        const key = `${ds.dev}:${ds.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        entries = readdirSync(fsPath(dir), { withFileTypes: true, encoding: "buffer" });
      } catch (e) {
        report(dir, e);
        continue;
      }
      entries.sort((a, b) => Buffer.compare(a.name, b.name));
      const subdirs: string[] = [];
      for (const e of entries) {
        const name = pathFromBytes(e.name);
        const path = dir.endsWith("/") ? dir + name : `${dir}/${name}`;
        if (excluded?.(path)) continue;
        if (e.isFile()) yield path;
        else if (e.isDirectory()) subdirs.push(path);
      }
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    }
  }
}
