// `relink --out`'s reading side: the root's tree as entries (no link followed, special files
// refused), ordered for writing, and where the copy's symbolic links and self-references go.
import { lstatSync, readdirSync, statSync, type BigIntStats } from "node:fs";
import { posix } from "node:path";
import { InputError, describeError } from "../errors.js";
import { fsPath, pathFromBytes, realPath } from "../io/paths.js";
import { replacePrefix } from "../patch/edits.js";
import type { Replacement } from "./relink.js";

/** A refusal or failure of `--out`, about `path` (the root, a file in it, or DIR): nothing is left at DIR. */
export class RelinkOutError extends InputError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export type Kind = "dir" | "file" | "symlink";
export interface Entry {
  /** The path below the root ("" for the root). */
  rel: string;
  /** Its path as walked (the root as given, joined with rel). */
  path: string;
  kind: Kind;
  st: BigIntStats;
}

export const join = (dir: string, name: string) => (name === "" ? dir : dir === "" ? name : dir.endsWith("/") ? dir + name : `${dir}/${name}`);
export const inodeKey = (st: { dev: bigint; ino: bigint }) => `${st.dev}:${st.ino}`;

function specialKind(st: BigIntStats): string {
  return st.isFIFO() ? "a FIFO" : st.isSocket() ? "a socket" : st.isCharacterDevice() ? "a character device" : st.isBlockDevice() ? "a block device" : "not a regular file";
}

/**
 * Every entry below `root` (itself first), directories before their contents, each
 * directory's entries by name (bytes). Symbolic links are never followed (the root itself
 * is, since the caller named it). Refuses, before anything is written, a special file (FIFO,
 * device, socket), which a copy cannot keep, and a directory reached twice (a bind mount).
 */
export function scanTree(root: string): Entry[] {
  let st: BigIntStats;
  try {
    st = statSync(fsPath(root), { bigint: true });
  } catch (e) {
    throw new RelinkOutError(root, describeError(e));
  }
  if (!st.isDirectory()) throw new RelinkOutError(root, "--out takes one directory as its root");
  const entries: Entry[] = [{ rel: "", path: root, kind: "dir", st }];
  const seen = new Set([inodeKey(st)]);
  const special: string[] = [];
  const stack: Entry[] = [entries[0]!];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let names: Buffer[];
    try {
      names = readdirSync(fsPath(dir.path), { encoding: "buffer" });
    } catch (e) {
      throw new RelinkOutError(dir.path, `${describeError(e)}; nothing written`);
    }
    names.sort(Buffer.compare);
    const subdirs: Entry[] = [];
    for (const raw of names) {
      const name = pathFromBytes(raw);
      const rel = join(dir.rel, name);
      const path = join(dir.path, name);
      let est: BigIntStats;
      try {
        est = lstatSync(fsPath(path), { bigint: true });
      } catch (e) {
        throw new RelinkOutError(path, `${describeError(e)}; nothing written`);
      }
      const kind: Kind | null = est.isDirectory() ? "dir" : est.isFile() ? "file" : est.isSymbolicLink() ? "symlink" : null;
      if (kind === null) {
        special.push(`${path} (${specialKind(est)})`);
        continue;
      }
      const e: Entry = { rel, path, kind, st: est };
      entries.push(e);
      if (kind === "dir") {
        if (seen.has(inodeKey(est))) throw new RelinkOutError(path, "is a directory reached twice (a bind mount?); nothing written");
        seen.add(inodeKey(est));
        subdirs.push(e);
      }
    }
    // Depth first, in name order: a directory's subdirectories after its own files, as the
    // walk of `relink` and `scan`, so that the first name of a hard-linked file is stable.
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
  if (special.length > 0) {
    const more = special.length > 1 ? ` (and ${special.length - 1} more special ${special.length === 2 ? "file" : "files"})` : "";
    throw new RelinkOutError(root, `${special[0]} is a special file${more}: --out copies directories, regular files and symbolic links only; nothing written`);
  }
  // Entries in walk order (pre-order): directories before what is in them.
  return orderTree(entries);
}

/** The entries in pre-order: each directory followed by its files, then its subdirectories' trees. */
function orderTree(entries: Entry[]): Entry[] {
  const children = new Map<string, Entry[]>();
  for (const e of entries.slice(1)) {
    const parent = e.rel.includes("/") ? e.rel.slice(0, e.rel.lastIndexOf("/")) : "";
    const list = children.get(parent) ?? [];
    list.push(e);
    children.set(parent, list);
  }
  const out: Entry[] = [];
  const visit = (e: Entry) => {
    out.push(e);
    const kids = children.get(e.rel) ?? [];
    for (const k of kids) if (k.kind !== "dir") out.push(k);
    for (const k of kids) if (k.kind === "dir") visit(k);
  };
  visit(entries[0]!);
  return out;
}

/** `path` normalized lexically (`.` and `..` resolved as text, as `realpath -s`), absolute. */
function lexical(base: string, target: string): string {
  return posix.resolve(base, target);
}

/** Where `abs` lies inside one of `roots`, mapped under `dir`; null when it lies outside them all. */
function mapInto(abs: string, roots: readonly string[], dir: string): string | null {
  for (const r of roots) {
    const to = replacePrefix(abs, r, dir);
    if (to !== null) return to;
  }
  return null;
}

/**
 * The target a symbolic link at `rel` (below the root) gets in DIR. An absolute target
 * inside the root moves to the same place under DIR; one outside stays as it is. A relative
 * target is resolved lexically from the link's directory (the physical root's): one that
 * still reaches the same place from the link's new directory stays as it is (within the
 * root, or to a sibling of a root whose DIR is its sibling too); else it becomes the path
 * from the new directory to the target's place under DIR, or, for a target outside the
 * root, its absolute path: it keeps pointing where it pointed.
 */
export function mapLinkTarget(target: string, rel: string, roots: { given: string; real: string }, dir: string): string {
  const spellings = [...new Set([roots.given, roots.real])];
  if (target.startsWith("/")) return mapInto(target, spellings, dir) ?? target;
  const relDir = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
  const oldPlace = lexical(join(roots.real, relDir), target);
  const newDir = join(dir, relDir);
  const inside = mapInto(oldPlace, [roots.real], dir);
  const place = inside ?? oldPlace;
  if (lexical(newDir, target) === place) return target;
  if (inside === null) return oldPlace;
  return posix.relative(newDir, inside) || ".";
}

/** The replacements `--out` rewrites with: the user's, and the root's own path (as given and as it really is) to DIR. */
export function outReplacements(root: string, dir: string, user: readonly Replacement[]): Replacement[] {
  const real = realPath(root);
  const given = posix.resolve(root);
  const self = [...new Set([given, real])].map((from) => ({ from, to: dir }));
  // A replacement the user gives for a place inside the root (or the root itself) is more
  // specific than ROOT=DIR and goes first; mapReference applies the first that matches.
  const within = user.filter((r) => self.some((s) => replacePrefix(r.from, s.from, s.to) !== null));
  const rest = user.filter((r) => !within.includes(r));
  return [...within, ...self, ...rest];
}
