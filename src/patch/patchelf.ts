import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DT_RPATH, DT_RUNPATH, ElfError, PF_X, PT_GNU_STACK, type ElfFile } from "../elf/index.js";
import { withElfFile } from "../io/file-source.js";
import { splitSearchPath, type Edit } from "./edits.js";
import { patchFile } from "./patch-file.js";
import { PatchError } from "./plan.js";

/** The version the front end answers to `--version`: build scripts compare it. */
export const PATCHELF_VERSION = "0.18.0";
const DF_1_NODEFLIB = 0x800;

/** What a patchelf command line asks for. */
export interface PatchelfRequest {
  files: string[];
  output?: string;
  pageSize?: number;
  debug: boolean;
  forceRpath: boolean;
  print: {
    interpreter: boolean;
    osAbi: boolean;
    soname: boolean;
    rpath: boolean;
    needed: boolean;
    execstack: boolean;
  };
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
  renameDynamicSymbols?: string;
  help: boolean;
  version: boolean;
}

export class PatchelfUsageError extends Error {}

/** patchelf's names for EI_OSABI values, as `--print-os-abi` prints them. */
const OS_ABI_NAMES: [number, string, string[]][] = [
  [0, "System V", ["none", "sysv", "system v"]],
  [1, "HP-UX", ["hpux", "hp-ux"]],
  [2, "NetBSD", ["netbsd"]],
  [3, "Linux", ["linux", "gnu"]],
  [4, "GNU Hurd", ["gnu hurd", "hurd"]],
  [6, "Solaris", ["solaris"]],
  [7, "AIX", ["aix"]],
  [8, "IRIX", ["irix"]],
  [9, "FreeBSD", ["freebsd"]],
  [10, "Tru64", ["tru64"]],
  [11, "Novell Modesto", ["modesto", "novell modesto"]],
  [12, "OpenBSD", ["openbsd"]],
  [64, "ARM EABI", ["arm_aeabi", "arm eabi"]],
  [97, "ARM", ["arm"]],
  [255, "Standalone App", ["standalone", "standalone app"]],
];

export function osAbiLabel(value: number): string {
  return OS_ABI_NAMES.find(([v]) => v === value)?.[1] ?? `0x${value.toString(16).toUpperCase().padStart(2, "0")}`;
}

function parseOsAbi(name: string): number {
  const n = name.toLowerCase();
  const hit = OS_ABI_NAMES.find(([, label, aliases]) => label.toLowerCase() === n || aliases.includes(n));
  if (!hit) throw new PatchelfUsageError(`unrecognized OS ABI ${name} (known: ${OS_ABI_NAMES.map(([, l]) => l).join(", ")})`);
  return hit[0];
}

/** patchelf reads an argument that starts with `@` from the named file, verbatim. */
function resolveArgument(arg: string): string {
  return arg.startsWith("@") ? readFileSync(arg.slice(1), "latin1") : arg;
}

/** Parses patchelf's command line (0.18/0.19 options). Anything that is not an option is a file, as in patchelf. */
export function parsePatchelfArgs(argv: readonly string[]): PatchelfRequest {
  const r: PatchelfRequest = {
    files: [],
    debug: false,
    forceRpath: false,
    print: { interpreter: false, osAbi: false, soname: false, rpath: false, needed: false, execstack: false },
    removeNeeded: [],
    replaceNeeded: [],
    addNeeded: [],
    noDefaultLib: false,
    clearSymbolVersion: [],
    addDebugTag: false,
    help: false,
    version: false,
  };
  let i = 0;
  const value = (opt: string) => {
    if (i + 1 >= argv.length) throw new PatchelfUsageError(`${opt} needs an argument`);
    return argv[++i]!;
  };
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case "--set-interpreter":
      case "--interpreter":
        r.interpreter = resolveArgument(value(a));
        break;
      case "--page-size": {
        const n = Number(value(a));
        if (!Number.isInteger(n) || n <= 0 || (n & (n - 1)) !== 0) throw new PatchelfUsageError("invalid argument to --page-size");
        r.pageSize = n;
        break;
      }
      case "--print-interpreter":
        r.print.interpreter = true;
        break;
      case "--print-os-abi":
        r.print.osAbi = true;
        break;
      case "--set-os-abi":
        r.osAbi = parseOsAbi(resolveArgument(value(a)));
        break;
      case "--print-soname":
        r.print.soname = true;
        break;
      case "--set-soname":
        r.soname = resolveArgument(value(a));
        break;
      case "--remove-rpath":
        r.rpath = { op: "remove" };
        break;
      case "--shrink-rpath":
        r.rpath = { op: "shrink", allowedPrefixes: r.rpath?.op === "shrink" ? r.rpath.allowedPrefixes : [] };
        break;
      case "--allowed-rpath-prefixes": {
        const prefixes = splitSearchPath(resolveArgument(value(a)));
        r.rpath = { op: "shrink", allowedPrefixes: prefixes };
        break;
      }
      case "--set-rpath":
        r.rpath = { op: "set", value: resolveArgument(value(a)) };
        break;
      case "--add-rpath":
        r.rpath = { op: "add", value: resolveArgument(value(a)) };
        break;
      case "--print-rpath":
        r.print.rpath = true;
        break;
      case "--force-rpath":
        r.forceRpath = true;
        break;
      case "--add-needed":
        r.addNeeded.push(resolveArgument(value(a)));
        break;
      case "--remove-needed":
        r.removeNeeded.push(resolveArgument(value(a)));
        break;
      case "--replace-needed": {
        const from = resolveArgument(value(a));
        r.replaceNeeded.push([from, resolveArgument(value(a))]);
        break;
      }
      case "--print-needed":
        r.print.needed = true;
        break;
      case "--no-default-lib":
        r.noDefaultLib = true;
        break;
      case "--no-sort":
      case "--no-clobber-old-sections":
        // Layout choices of patchelf's own writer; abilink never sorts headers or clobbers old sections.
        break;
      case "--clear-symbol-version":
        r.clearSymbolVersion.push(resolveArgument(value(a)));
        break;
      case "--print-execstack":
        r.print.execstack = true;
        break;
      case "--clear-execstack":
        r.execstack = false;
        break;
      case "--set-execstack":
        r.execstack = true;
        break;
      case "--add-debug-tag":
        r.addDebugTag = true;
        break;
      case "--rename-dynamic-symbols":
        r.renameDynamicSymbols = value(a);
        break;
      case "--output":
        r.output = value(a);
        break;
      case "--debug":
        r.debug = true;
        break;
      case "--help":
        r.help = true;
        break;
      case "--version":
        r.version = true;
        break;
      default:
        r.files.push(a);
    }
  }
  if (r.output !== undefined && r.files.length > 1) throw new PatchelfUsageError("--output option only allowed with single input file");
  return r;
}

/** The edits a request makes, in patchelf's order of application. */
export function patchelfEdits(r: PatchelfRequest, file: string, elf: ElfFile): Edit[] {
  const edits: Edit[] = [];
  if (r.osAbi !== undefined) edits.push({ op: "set-os-abi", value: r.osAbi });
  if (r.soname !== undefined) {
    // patchelf sets a SONAME on shared objects only (ET_DYN).
    if (elf.header.e_type === 3) edits.push({ op: "set-soname", name: r.soname });
  }
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
          ? shrinkRpath(current, file, elf, rp.allowedPrefixes)
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
  if (r.renameDynamicSymbols !== undefined) edits.push({ op: "rename-symbols", map: readRenameMap(r.renameDynamicSymbols) });
  return edits;
}

/** patchelf's NAME_MAP_FILE: an old and a new name per line, separated by white space. */
export function readRenameMap(path: string): [string, string][] {
  const out: [string, string][] = [];
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((line, i) => {
      const words = line.trim().split(/\s+/).filter(Boolean);
      if (words.length === 0) return;
      if (words.length !== 2) throw new PatchelfUsageError(`${path}:${i + 1}: expected two symbol names`);
      out.push([words[0]!, words[1]!]);
    });
  return out;
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
export function shrinkRpath(paths: string[], _file: string, elf: ElfFile, allowedPrefixes: string[]): string[] {
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

/** What printing options print for one file, in patchelf's order. */
export function patchelfPrint(r: PatchelfRequest, elf: ElfFile): string {
  let out = "";
  if (r.print.interpreter) {
    if (elf.interpreter === null) throw new PatchError("cannot find section '.interp'. The input file is most likely statically linked");
    out += `${elf.interpreter}\n`;
  }
  if (r.print.osAbi) out += `${osAbiLabel(elf.header.ei_osabi)}\n`;
  if (r.print.soname) {
    const s = elf.dynamic?.soname;
    if (s === null || s === undefined) throw new PatchError("DT_SONAME doesn't exist");
    out += `${s}\n`;
  }
  if (r.print.rpath) {
    const d = elf.dynamic;
    out += `${[...(d?.runpath.length ? d.runpath : (d?.rpath ?? []))].join(":")}\n`;
  }
  if (r.print.execstack) {
    const stack = elf.programHeaders.find((p) => p.p_type === PT_GNU_STACK);
    out += `execstack: ${stack ? ((stack.p_flags & PF_X) !== 0 ? "X" : "-") : "?"}\n`;
  }
  if (r.print.needed) for (const n of elf.dynamic?.needed ?? []) out += `${n}\n`;
  return out;
}

export interface PatchelfFileResult {
  printed: string;
  changed: boolean;
  debug: string[];
}

/**
 * Runs a request on one file: prints, then edits in the file's own inode (or writes
 * `output`), like patchelf. Throws PatchError / ElfError / system errors.
 */
export function runPatchelfOnFile(r: PatchelfRequest, file: string): PatchelfFileResult {
  const read = withElfFile(file, (elf) => ({ printed: patchelfPrint(r, elf), edits: patchelfEdits(r, file, elf) }));
  if (read === null) throw new PatchError("not an ELF executable");
  if (read.edits.length === 0 && r.output === undefined) return { printed: read.printed, changed: false, debug: [] };
  const res = patchFile(file, read.edits, {
    inPlace: r.output === undefined,
    output: r.output,
    force: true,
    pageSize: r.pageSize,
    // patchelf does not fsync; build scripts call it once per file.
    fsync: false,
  });
  return { printed: read.printed, changed: res.written, debug: res.plan.changes };
}
