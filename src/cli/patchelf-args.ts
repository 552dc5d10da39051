// patchelf's command line (0.18/0.19 options), parsed into what abilink's front end does.
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import { fsPath } from "../io/paths.js";
import { splitSearchPath } from "../patch/edits.js";
import type { PatchelfEdits } from "../patch/patchelf.js";

/** What a patchelf command line asks for: the edits, what to print, and how to run. */
export interface PatchelfRequest extends Omit<PatchelfEdits, "renameSymbols"> {
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
  /** --rename-dynamic-symbols NAME_MAP_FILE (read for each file, as patchelf does). */
  renameDynamicSymbols?: string;
  help: boolean;
  version: boolean;
}

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
  if (!hit) throw new UsageError(`unrecognized OS ABI ${name} (known: ${OS_ABI_NAMES.map(([, l]) => l).join(", ")})`);
  return hit[0];
}

/** patchelf reads an argument that starts with `@` from the named file, verbatim. */
function resolveArgument(arg: string): string {
  return arg.startsWith("@") ? readFileSync(fsPath(arg.slice(1)), "latin1") : arg;
}

/** patchelf's NAME_MAP_FILE: an old and a new name per line, separated by white space. */
export function readRenameMap(path: string): [string, string][] {
  const out: [string, string][] = [];
  readFileSync(fsPath(path), "utf8")
    .split("\n")
    .forEach((line, i) => {
      const words = line.trim().split(/\s+/).filter(Boolean);
      if (words.length === 0) return;
      if (words.length !== 2) throw new UsageError(`${path}:${i + 1}: expected two symbol names`);
      out.push([words[0]!, words[1]!]);
    });
  return out;
}

/** Parses patchelf's command line. Anything that is not an option is a file, as in patchelf. */
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
  let i = 0;
  const value = (opt: string) => {
    if (i + 1 >= argv.length) throw new UsageError(`${opt} needs an argument`);
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
        if (!Number.isInteger(n) || n <= 0 || (n & (n - 1)) !== 0) throw new UsageError("invalid argument to --page-size");
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
      case "--build-resolution-cache":
        r.buildResolutionCache = true;
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
  // patchelf 0.19 refuses the pair.
  if (r.buildResolutionCache && r.forceRpath) throw new UsageError("--build-resolution-cache cannot be used together with --force-rpath");
  if (r.output !== undefined && r.files.length > 1) throw new UsageError("--output option only allowed with single input file");
  return r;
}
