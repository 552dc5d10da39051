// patchelf's command line (0.18/0.19 options), parsed into what abilink's front end does.
import { UsageError } from "../errors.js";
import { readSmallFile } from "../io/file-source.js";
import { pathFromBytes, pathToBytes } from "../io/paths.js";
import { patchelfSystemMessage } from "./patchelf-messages.js";
import { splitSearchPath } from "../patch/edits.js";
import type { PatchelfEdits } from "../patch/patchelf.js";

/** What a patchelf command line asks for: the edits, what to print, and how to run. */
export interface PatchelfRequest extends PatchelfEdits {
  files: string[];
  output?: string;
  pageSize?: number;
  debug: boolean;
  print: {
    interpreter: boolean;
    osAbi: boolean;
    soname: boolean;
    rpath: boolean;
    needed: boolean;
    execstack: boolean;
  };
  /** --build-resolution-cache (patchelf 0.19): a .note.nixos.ldcache note, after the other edits. */
  buildResolutionCache: boolean;
  help: boolean;
  version: boolean;
}

/** patchelf 0.19's names for EI_OSABI values: what `--print-os-abi` prints, and the spellings `--set-os-abi` takes. */
const OS_ABI_NAMES: [number, string, string[]][] = [
  [0, "System V", ["system v", "system-v", "sysv"]],
  [1, "HP-UX", ["hp-ux"]],
  [2, "NetBSD", ["netbsd"]],
  [3, "Linux", ["linux", "gnu"]],
  [4, "GNU Hurd", ["gnu hurd", "gnu-hurd", "hurd"]],
  [6, "Solaris", ["solaris"]],
  [7, "AIX", ["aix"]],
  [8, "IRIX", ["irix"]],
  [9, "FreeBSD", ["freebsd"]],
  [10, "Tru64", ["tru64"]],
  [12, "OpenBSD", ["openbsd"]],
  [13, "OpenVMS", ["openvms"]],
];

/** `--print-os-abi`'s line: the name, or the value as 0xNN. */
export function osAbiLabel(value: number): string {
  return OS_ABI_NAMES.find(([v]) => v === value)?.[1] ?? `0x${value.toString(16).toUpperCase().padStart(2, "0")}`;
}

/** `--set-os-abi`'s value: one of patchelf's spellings, in any case, white space around it ignored. */
export function parseOsAbi(name: string): number {
  const n = name.trim().toLowerCase();
  const hit = OS_ABI_NAMES.find(([, , spellings]) => spellings.includes(n));
  if (!hit) throw new UsageError("unrecognized OS ABI");
  return hit[0];
}

/** The most an `@file` argument or a map file may hold: run paths and symbol lists, not data. */
const MAX_ARGUMENT_FILE = 16 << 20;

/** patchelf reads an argument that starts with `@` from the named file, verbatim. */
function resolveArgument(arg: string): string {
  if (!arg.startsWith("@")) return arg;
  const file = arg.slice(1);
  try {
    return pathFromBytes(readSmallFile(file, MAX_ARGUMENT_FILE));
  } catch (e) {
    throw new UsageError(patchelfSystemMessage(file, e));
  }
}

/**
 * patchelf's NAME_MAP_FILE: an old and a new name per line, separated by white space, read
 * as patchelf reads it (the first line without a word ends the map), with its messages.
 */
export function readRenameMap(path: string): [string, string][] {
  let text: string;
  try {
    text = pathFromBytes(readSmallFile(path, MAX_ARGUMENT_FILE));
  } catch {
    throw new UsageError(`Cannot open map file ${path}`);
  }
  const map = new Map<string, string>();
  let lineCount = 1;
  for (const line of text.split("\n")) {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) break;
    const [from, to] = words as [string, string | undefined];
    if (to === undefined) throw new UsageError(`${path}:${lineCount}: Map file line is missing the second element`);
    if (map.has(from)) throw new UsageError(`${path}:${lineCount}: Name '${from}' appears twice in the map file`);
    if (from.includes("@") || to.includes("@")) throw new UsageError(`${path}:${lineCount}: Name pair contains version tag: ${from} ${to}`);
    lineCount++;
    map.set(from, to);
  }
  return [...map];
}

/** patchelf keeps names in a std::set: sorted by their bytes, each once. */
function sortedUnique(names: Iterable<string>): string[] {
  return [...new Set(names)].sort((a, b) => Buffer.compare(pathToBytes(a), pathToBytes(b)));
}

/** C's atoi, as patchelf reads --page-size: leading white space, a sign, digits; anything after ignored. */
function atoi(text: string): number {
  const m = /^[\t\n\v\f\r ]*([+-]?\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * Parses patchelf's command line as patchelf 0.19 does: anything that is not an option is a
 * file; repeated options collapse as patchelf's sets and maps do (added NEEDED entries sorted,
 * a later --replace-needed of one name wins); of the run-path operations only one applies
 * (shrink, else remove, else set, else add); --print-execstack, else --clear-execstack, else
 * --set-execstack. Throws UsageError with patchelf's message.
 */
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
    buildResolutionCache: false,
    help: false,
    version: false,
  };
  const rpath = { shrink: false, remove: false, set: undefined as string | undefined, add: undefined as string | undefined };
  let allowedPrefixes: string[] = [];
  let execstack: "clear" | "set" | undefined;
  const replace = new Map<string, string>();
  let i = 0;
  const value = () => {
    if (++i >= argv.length) throw new UsageError("missing argument");
    return argv[i]!;
  };
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case "--set-interpreter":
      case "--interpreter":
        r.interpreter = resolveArgument(value());
        break;
      case "--page-size": {
        const n = atoi(value());
        if (n <= 0) throw new UsageError("invalid argument to --page-size");
        // abilink's difference: a page size that is not a power of two would misalign every segment.
        if ((n & (n - 1)) !== 0) throw new UsageError("invalid argument to --page-size (abilink: not a power of two)");
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
        r.osAbi = parseOsAbi(resolveArgument(value()));
        break;
      case "--print-soname":
        r.print.soname = true;
        break;
      case "--set-soname":
        r.soname = resolveArgument(value());
        break;
      case "--remove-rpath":
        rpath.remove = true;
        break;
      case "--shrink-rpath":
        rpath.shrink = true;
        break;
      case "--allowed-rpath-prefixes":
        allowedPrefixes = splitSearchPath(value());
        break;
      case "--set-rpath":
        rpath.set = resolveArgument(value());
        break;
      case "--add-rpath":
        rpath.add = resolveArgument(value());
        break;
      case "--print-rpath":
        r.print.rpath = true;
        break;
      case "--force-rpath":
        r.forceRpath = true;
        break;
      case "--add-needed":
        r.addNeeded.push(resolveArgument(value()));
        break;
      case "--remove-needed":
        r.removeNeeded.push(resolveArgument(value()));
        break;
      case "--replace-needed":
        // patchelf takes both names as they are (no @file).
        if (i + 2 >= argv.length) throw new UsageError("missing argument(s)");
        replace.set(argv[i + 1]!, argv[i + 2]!);
        i += 2;
        break;
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
        r.clearSymbolVersion.push(resolveArgument(value()));
        break;
      case "--print-execstack":
        r.print.execstack = true;
        break;
      case "--clear-execstack":
        execstack = "clear";
        break;
      case "--set-execstack":
        execstack ??= "set";
        break;
      case "--add-debug-tag":
        r.addDebugTag = true;
        break;
      case "--build-resolution-cache":
        r.buildResolutionCache = true;
        break;
      case "--rename-dynamic-symbols":
        r.renameSymbols = readRenameMap(value());
        break;
      case "--output":
        r.output = resolveArgument(value());
        break;
      case "--debug":
        r.debug = true;
        break;
      case "--help":
      case "-h":
        r.help = true;
        return r;
      case "--version":
        r.version = true;
        return r;
      default:
        r.files.push(a);
    }
  }
  if (r.files.length === 0) throw new UsageError("missing filename");
  if (r.output !== undefined && r.files.length !== 1) throw new UsageError("--output option only allowed with single input file");
  // patchelf 0.19 refuses the pair.
  if (r.buildResolutionCache && r.forceRpath) throw new UsageError("--build-resolution-cache cannot be used together with --force-rpath");
  if (rpath.set !== undefined && rpath.add !== undefined) throw new UsageError("--set-rpath option not allowed with --add-rpath");
  if (rpath.shrink) r.rpath = { op: "shrink", allowedPrefixes };
  else if (rpath.remove) r.rpath = { op: "remove" };
  else if (rpath.set !== undefined) r.rpath = { op: "set", value: rpath.set };
  else if (rpath.add !== undefined) r.rpath = { op: "add", value: rpath.add };
  if (!r.print.execstack && execstack !== undefined) r.execstack = execstack === "set";
  r.addNeeded = sortedUnique(r.addNeeded);
  r.removeNeeded = sortedUnique(r.removeNeeded);
  r.clearSymbolVersion = sortedUnique(r.clearSymbolVersion);
  r.replaceNeeded = sortedUnique(replace.keys()).map((from) => [from, replace.get(from)!]);
  return r;
}
