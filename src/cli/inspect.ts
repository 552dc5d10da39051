import type { Command } from "commander";
import { inspectFile } from "../inspect/inspect.js";
import { exitForFailures } from "./exit-codes.js";
import { jsonLine, out, warnError } from "./output.js";
import { renderInspection } from "./render.js";

export interface InspectFlags {
  json?: boolean;
}

/** `abilink inspect FILE... [--json]`; returns the exit status. */
export function runInspect(files: string[], flags: InspectFlags): number {
  let failures = 0;
  for (const file of files) {
    try {
      const r = inspectFile(file);
      out(flags.json ? jsonLine(r) : renderInspection(r));
    } catch (e) {
      failures++;
      warnError(file, e);
    }
  }
  return exitForFailures(failures);
}

export function registerInspect(program: Command, setExit: (code: number) => void): void {
  program
    .command("inspect")
    .summary("print the ELF facts of files: interpreter, SONAME, NEEDED, RPATH/RUNPATH, symbols and versions")
    .description(
      "Read each FILE (ELF32/ELF64, either endianness, any machine) and print its header facts, " +
        "dynamic table and dynamic symbols with their versions. Only the byte ranges needed are read.",
    )
    .argument("<file...>", "ELF files to read")
    .option("--json", "JSON Lines: one JSON object per file")
    .addHelpText(
      "after",
      `
Examples:
  abilink inspect /bin/ls
  abilink inspect --json /lib/x86_64-linux-gnu/libc.so.6 | jq '.defined | length'
  abilink inspect --json /usr/bin/* 2>/dev/null | jq -r 'select(.needed | index("libssl.so.3")) | .path'

Exit status: 0 all files read; 1 a file was unreadable or not valid ELF (the others are still reported); 2 usage error.`,
    )
    .action((files: string[], flags: InspectFlags) => setExit(runInspect(files, flags)));
}
