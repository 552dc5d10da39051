// What patchelf's edit options mean, as abilink edits. The command line itself (parsing,
// printing, messages) is the CLI's: src/cli/patchelf-args.ts and src/cli/patchelf.ts.
import { join } from "node:path";
import { DT_RPATH, DT_RUNPATH, ET_DYN, type ElfFile } from "../elf/index.js";
import { ElfError, MalformedError } from "../errors.js";
import { withElfFile } from "../io/file-source.js";
import { splitSearchPath, type Edit } from "./edits.js";

const DF_1_NODEFLIB = 0x800;

/** The edits a patchelf command line asks for. */
export interface PatchelfEdits {
  forceRpath: boolean;
  interpreter?: string;
  osAbi?: number;
  soname?: string;
  rpath?: { op: "set" | "add"; value: string } | { op: "remove" } | { op: "shrink"; allowedPrefixes: string[] };
  removeNeeded: string[];
  replaceNeeded: [string, string][];
  addNeeded: string[];
  noDefaultLib: boolean;
  clearSymbolVersion: string[];
  execstack?: boolean;
  addDebugTag: boolean;
  /** --rename-dynamic-symbols, its map file already read: old and new names. */
  renameSymbols?: [string, string][];
}

/** The edits of a request for one file, in patchelf's order of application. */
export function patchelfEdits(r: PatchelfEdits, elf: ElfFile): Edit[] {
  const edits: Edit[] = [];
  // Without PT_DYNAMIC, the current search path is read from a consistent .dynamic section
  // (the planner refuses an inconsistent one, with the reason).
  try {
    elf.adoptDynamicSection();
  } catch (e) {
    if (!(e instanceof MalformedError)) throw e;
  }
  if (r.osAbi !== undefined) edits.push({ op: "set-os-abi", value: r.osAbi });
  // patchelf sets a SONAME on shared objects only.
  if (r.soname !== undefined && elf.header.e_type === ET_DYN) edits.push({ op: "set-soname", name: r.soname });
  if (r.interpreter !== undefined) edits.push({ op: "set-interpreter", path: r.interpreter });
  if (r.execstack !== undefined) edits.push({ op: "set-execstack", executable: r.execstack });
  // patchelf's documented conversion: DT_RPATH becomes DT_RUNPATH unless --force-rpath (which also turns RUNPATH into RPATH).
  const kind = r.forceRpath ? "rpath" : "runpath";
  const rp = r.rpath;
  if (rp) {
    if (rp.op === "remove") edits.push({ op: "remove-runpath" });
    else {
      const current = [...(elf.dynamic?.runpath ?? []), ...(elf.dynamic?.rpath ?? [])];
      const hasEntry = (elf.dynamic?.entries ?? []).some((e) => e.d_tag === BigInt(DT_RPATH) || e.d_tag === BigInt(DT_RUNPATH));
      const paths =
        rp.op === "shrink"
          ? shrinkRpath(current, elf, rp.allowedPrefixes)
          : rp.op === "set"
            ? splitSearchPath(rp.value)
            : [...current, ...splitSearchPath(rp.value)];
      if (rp.op !== "shrink" || hasEntry) {
        edits.push({ op: "convert-search-path", to: kind });
        edits.push({ op: "set-search-path", paths, kind });
      }
    }
  }
  for (const n of r.removeNeeded) edits.push({ op: "remove-needed", name: n });
  for (const [from, to] of r.replaceNeeded) edits.push({ op: "replace-needed", from, to });
  for (const n of r.addNeeded) edits.push({ op: "add-needed", name: n, first: true });
  if (r.noDefaultLib) edits.push({ op: "set-flags-1", bits: DF_1_NODEFLIB });
  for (const s of r.clearSymbolVersion) edits.push({ op: "clear-symbol-version", name: s });
  if (r.addDebugTag) edits.push({ op: "add-debug-tag" });
  if (r.renameSymbols !== undefined) edits.push({ op: "rename-symbols", map: r.renameSymbols });
  return edits;
}

/** e_machine of a candidate library (its ELF header only), or null when it is missing or not ELF. */
function machineOf(path: string): number | null {
  try {
    return withElfFile(path, (elf) => elf.header.e_machine);
  } catch (e) {
    if (e instanceof ElfError) return null;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw e;
  }
}

/**
 * patchelf's --shrink-rpath: keep relative entries ($ORIGIN…), and of the absolute ones those
 * (with an allowed prefix) that hold a NEEDED library of the same machine not found earlier.
 */
export function shrinkRpath(paths: string[], elf: ElfFile, allowedPrefixes: string[]): string[] {
  const needed = elf.dynamic?.needed ?? [];
  const found = new Set<string>();
  const keep: string[] = [];
  for (const dir of paths) {
    if (dir !== "" && !dir.startsWith("/")) {
      keep.push(dir);
      continue;
    }
    if (allowedPrefixes.length > 0 && !allowedPrefixes.some((p) => dir.startsWith(p))) continue;
    let useful = false;
    for (const lib of needed) {
      if (found.has(lib)) continue;
      if (machineOf(join(dir, lib)) === elf.header.e_machine) {
        found.add(lib);
        useful = true;
      }
    }
    if (useful) keep.push(dir);
  }
  return keep;
}
