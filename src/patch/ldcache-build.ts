// patchelf's --build-resolution-cache for one file: the run path and NEEDED entries as the
// other edits of the same run leave them, resolved against the directories on disk, as an
// "add-note" edit (or a warning when there is nothing to record).
import { accessSync, constants, statSync } from "node:fs";
import { DT_NEEDED, DT_RPATH, DT_RUNPATH, type ElfFile } from "../elf/index.js";
import { PatchError } from "../errors.js";
import { fsPath } from "../io/paths.js";
import type { Edit } from "./edits.js";
import { LDCACHE_SECTION, encodeDescriptor, encodeLdCacheNote, resolveRunPath, type DirectoryProbe } from "./ldcache.js";
import { buildModel } from "./model.js";
import { liveNoteSection } from "./stale-note.js";

const stat = (path: string) => {
  try {
    return statSync(fsPath(path));
  } catch {
    return null;
  }
};

/** The file system as patchelf 0.19.1 probes it: a directory must exist and be searchable. */
export const diskProbe: DirectoryProbe = {
  searchable(dir) {
    if (!stat(dir)?.isDirectory()) return false;
    try {
      accessSync(fsPath(dir), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  },
  hasHwcaps: (dir) => stat(`${dir.replace(/\/+$/, "")}/glibc-hwcaps`) !== null,
  isFile: (path) => stat(path)?.isFile() ?? false,
};

/** What --build-resolution-cache does to a file: an edit, or nothing with a warning (or without, when the note is already there). */
export interface ResolutionCacheStep {
  edit: Edit | null;
  warning: string | null;
}

const ALREADY = `a different resolution cache note (${LDCACHE_SECTION}) is already present: refusing to replace it`;

/**
 * The resolution cache of `elf` after `edits` (applied in memory: a run path set in the same
 * run is the one resolved). The loader's run path is DT_RUNPATH when there is one, else
 * DT_RPATH; its empty components (the current directory) count. Throws PatchError when a
 * different note is already present (also when there is nothing to record now).
 */
export function resolutionCacheStep(elf: ElfFile, edits: readonly Edit[], probe: DirectoryProbe = diskProbe): ResolutionCacheStep {
  const model = buildModel(elf, edits);
  const slots = model.slots;
  // A note the edits made stale is replaced (or dropped) by the rewrite itself.
  const stale = model.resolutionInputsChanged;
  const str = (tag: number) => slots.find((s) => s.tag === BigInt(tag))?.str;
  const value = str(DT_RUNPATH) ?? str(DT_RPATH) ?? "";
  const runPath = value === "" ? [] : value.split(":");
  const needed = slots.filter((s) => s.tag === BigInt(DT_NEEDED)).map((s) => s.str!);
  const entries = resolveRunPath(needed, runPath, probe);
  const existing = existingNote(elf);
  if (entries.length === 0) {
    if (existing !== null && !stale) throw new PatchError(ALREADY);
    const searched = needed.some((n) => !n.includes("/")) && runPath.length > 0;
    const why = searched ? "none of its DT_NEEDED entries is on the run path" : "no DT_NEEDED entries or run path to resolve";
    return { edit: null, warning: `${why}; no resolution cache written` };
  }
  const note = encodeLdCacheNote(encodeDescriptor(entries), elf.little);
  // The same note again is left as it is (by the model, which also keeps it from being dropped as stale).
  if (existing !== null && !stale && !Buffer.from(existing).equals(note)) throw new PatchError(ALREADY);
  return { edit: { op: "add-note", section: LDCACHE_SECTION, note }, warning: null };
}

/** The contents of the file's live .note.nixos.ldcache section, or null when it has none (or a dropped one). */
function existingNote(elf: ElfFile): Uint8Array | null {
  const s = liveNoteSection(elf, LDCACHE_SECTION)?.section;
  if (!s) return null;
  if (s.sh_offset + s.sh_size > BigInt(elf.source.size)) return new Uint8Array(0);
  return elf.source.read(Number(s.sh_offset), Number(s.sh_size));
}
