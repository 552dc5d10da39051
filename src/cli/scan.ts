import type { Command } from "commander";
import { availableParallelism } from "node:os";
import { scan } from "../closure/scan.js";
import { exitForFailures } from "./exit-codes.js";
import { parseJobs } from "./options.js";
import { StatusLine, out, outputLost, warn } from "./output.js";
import { renderScanRecord } from "./render.js";

export interface ScanFlags {
  json?: boolean;
  jobs?: number;
}

/** `abilink scan DIR... [--json] [--jobs N]`; returns the exit status. */
export async function runScan(roots: string[], flags: ScanFlags): Promise<number> {
  const status = new StatusLine();
  const totals = await scan(roots, {
    jobs: flags.jobs,
    onRecord: (r) => out(flags.json ? JSON.stringify(r) + "\n" : renderScanRecord(r)),
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


export function registerScan(program: Command, setExit: (code: number) => void): void {
  program
    .command("scan")
    .summary("find every ELF file under directories and print one record per file")
    .description(
      "Walk each DIR (never following symbolic links, never leaving the given roots), recognise ELF files " +
        "by content and print one record per file: class, endianness, machine, type, interpreter, SONAME, " +
        "NEEDED, RPATH, RUNPATH and size. Non-ELF files are skipped silently; unreadable or malformed " +
        "files are reported on stderr. Output is in a stable order: each directory's files by name, then its subdirectories.",
    )
    .argument("<dir...>", "directories (or files) to scan")
    .option("--json", "JSON Lines: one JSON object per ELF file")
    .option("-j, --jobs <n>", `worker threads (default: ${availableParallelism()}, the number of cores)`, parseJobs)
    .addHelpText(
      "after",
      `
Examples:
  abilink scan /usr/lib
  abilink scan --json /nix/store/*-openssl-* | jq -r 'select(.soname) | .soname'

Exit status: 0 every file was read; 1 some file or directory could not be read or is malformed ELF (the rest are still reported); 2 usage error.`,
    )
    .action(async (roots: string[], flags: ScanFlags) => setExit(await runScan(roots, flags)));
}
