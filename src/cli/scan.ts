import { InvalidArgumentError, type Command } from "commander";
import { availableParallelism } from "node:os";
import { scan } from "../closure/scan.js";
import { excludeMatcher } from "../closure/walk.js";
import { UsageError } from "../errors.js";
import { exitForFailures } from "./exit-codes.js";
import { collect, parseJobs } from "./options.js";
import { StatusLine, out, outputLost, warn } from "./output.js";
import { renderScanRecord } from "./render.js";

export interface ScanFlags {
  json?: boolean;
  jobs?: number;
  exclude?: string[];
  oneFileSystem?: boolean;
}

/** `abilink scan DIR... [--json] [--jobs N] [--exclude GLOB]... [--one-file-system]`; returns the exit status. */
export async function runScan(roots: string[], flags: ScanFlags): Promise<number> {
  const status = new StatusLine();
  const totals = await scan(roots, {
    jobs: flags.jobs,
    exclude: flags.exclude,
    oneFileSystem: flags.oneFileSystem,
    // The progress line shares the terminal with stdout: it is erased before each line
    // and drawn again after the next batch.
    onRecord: (r) => {
      status.done();
      out(flags.json ? JSON.stringify(r) + "\n" : renderScanRecord(r));
    },
    onError: (path, message) => {
      status.done();
      warn(path, message);
    },
    onProgress: (t) => status.update(`scanned ${t.files} files, ${t.elf} ELF, ${t.errors} errors`),
    // `abilink scan … | head`: once the reader has gone, the rest of the walk is for nobody.
    stop: outputLost,
  });
  status.done();
  return exitForFailures(totals.errors);
}

/** `--exclude GLOB`: checked as it is read, so that a bad glob is a usage error before the walk starts. */
function collectExclude(value: string, previous: string[] = []): string[] {
  try {
    excludeMatcher([value]);
  } catch (e) {
    if (e instanceof UsageError) throw new InvalidArgumentError(e.message);
    throw e;
  }
  return collect(value, previous);
}

export function registerScan(program: Command, setExit: (code: number) => void): void {
  program
    .command("scan")
    .summary("find every ELF file under directories and print one record per file")
    .description(
      "Walk each DIR (never following symbolic links, never leaving the given roots), recognise ELF files " +
        "by content and print one record per file: class, endianness, machine, type, size in bytes, interpreter, " +
        "SONAME, NEEDED, RPATH and RUNPATH. Non-ELF files are skipped silently; unreadable or malformed " +
        "files are reported on stderr. Output is in a stable order: each directory's files by name, then its subdirectories.\n\n" +
        "--exclude leaves out files and directories: a GLOB without a slash matches a base name (like find -name), " +
        "a GLOB with a slash matches the whole path as printed (the DIR as given, then the path below it). " +
        "* matches dot files too; an excluded directory is not entered; a DIR that matches is left out too.\n\n" +
        "--one-file-system does not enter directories on another file system than the DIR they were reached from " +
        "(mount points such as /proc below /), while a DIR that is itself a mount point is walked.",
    )
    .argument("<dir...>", "directories (or files) to scan")
    .option("--json", "JSON Lines: one JSON object per ELF file")
    .option("-j, --jobs <n>", `worker threads (default: ${availableParallelism()}, the number of cores)`, parseJobs)
    .option("--exclude <glob>", "leave out files and directories that match (base name, or whole path if GLOB has a /); repeatable", collectExclude)
    .option("-x, --one-file-system", "stay on the file system of each DIR (like find -xdev, du -x)")
    .addHelpText(
      "after",
      `
Text output: PATH ELF64|ELF32 LE|BE MACHINE TYPE size=BYTES [interp=…] [soname=…] [needed=a,b] [rpath=a:b] [runpath=a:b]

Examples:
  abilink scan /usr/lib
  abilink scan --json /nix/store/*-openssl-* | jq -r 'select(.soname) | .soname'
  abilink scan --one-file-system /                     # not /proc, /sys, /dev or other mounts
  abilink scan --exclude '*.debug' --exclude /usr/lib/debug /usr

Exit status: 0 every file was read; 1 some file or directory could not be read or is malformed ELF (the rest are still reported); 2 usage error.`,
    )
    .action(async (roots: string[], flags: ScanFlags) => setExit(await runScan(roots, flags)));
}
