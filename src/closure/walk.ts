import { readdirSync, statSync } from "node:fs";
import { fsPath, pathFromBytes } from "../io/paths.js";

export interface WalkOptions {
  /** Called for a directory or root that cannot be read; the walk goes on. */
  onError?: (path: string, error: NodeJS.ErrnoException) => void;
}

/**
 * Yields the regular files below `roots` in a stable order: each directory's files
 * by name (byte order), then its subdirectories by name, depth first. Names are kept
 * byte for byte, whatever their encoding (see io/paths.ts). Symbolic links below a root are never followed, files or directories,
 * so the walk cannot leave the roots; a root that is itself a link is followed, since
 * the caller named it. Each directory is entered once even if reachable twice (bind mounts).
 */
export function* walkFiles(roots: readonly string[], options: WalkOptions = {}): Generator<string> {
  const seen = new Set<string>();
  const report = (path: string, e: unknown) => {
    if (options.onError) options.onError(path, e as NodeJS.ErrnoException);
    else throw e;
  };
  for (const root of roots) {
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
    if (!st.isDirectory()) continue;
    // An explicit stack keeps deep trees from exhausting the call stack.
    const stack: string[] = [root];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      let entries;
      try {
        const ds = statSync(fsPath(dir), { bigint: true });
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
        if (e.isFile()) yield path;
        else if (e.isDirectory()) subdirs.push(path);
      }
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    }
  }
}
