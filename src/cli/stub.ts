import type { Command } from "commander";
import { availableParallelism } from "node:os";
import { stubFiles, type StubRecord } from "../closure/stub-files.js";
import { EXIT_USAGE, exitForFailures } from "./exit-codes.js";
import { parseJobs, stdinAtMostOnce } from "./options.js";
import { jsonLine, out, StatusLine, warn } from "./output.js";

export interface StubFlags {
  output?: string;
  outDir?: string;
  writeIfChanged?: boolean;
  fsync?: boolean;
  json?: boolean;
  verbose?: boolean;
  jobs?: number;
}

/** `abilink stub INPUT -o OUT` or `abilink stub INPUT... --out-dir DIR`. */
export async function runStub(inputs: string[], flags: StubFlags): Promise<number> {
  if (!stdinAtMostOnce("stub", inputs)) return EXIT_USAGE;
  if ((flags.output === undefined) === (flags.outDir === undefined)) {
    warn("stub", "give either -o FILE (one input) or --out-dir DIR");
    return EXIT_USAGE;
  }
  if (flags.output !== undefined && inputs.length !== 1) {
    warn("stub", "-o names one stub: give one input, or --out-dir DIR for several");
    return EXIT_USAGE;
  }
  const status = new StatusLine();
  const { records, failures } = await stubFiles(inputs, {
    output: flags.output,
    outDir: flags.outDir,
    writeIfChanged: flags.writeIfChanged,
    durable: flags.fsync === true,
    jobs: flags.jobs ?? availableParallelism(),
    onProgress: (done, total) => status.update(`stubbed ${done}/${total}`),
  });
  status.done();
  for (const f of failures) warn(f.subject ?? f.path, f.message);
  for (const r of records) {
    if (flags.json) out(jsonLine(r));
    else if (flags.verbose) out(describe(r));
  }
  return exitForFailures(failures.length);
}

function describe(r: StubRecord): string {
  const what = r.kind === "script" ? "linker script" : "stub";
  return `${r.output}: ${what} of ${r.path}${r.written ? "" : " (unchanged)"}\n`;
}

export function registerStub(program: Command, setExit: (code: number) => void): void {
  program
    .command("stub")
    .summary("write linkable, code-free ELF stubs of shared libraries (from the library or its manifest)")
    .description(
      "Build a stub: a shared object with the library's SONAME, symbols, versions, types, bindings, st_other, " +
        "and for data objects their size, alignment, kind (read-only, RELRO, writable, TLS) and alias groups, but " +
        "no code and no data bytes. Programs link against it as against the library (GNU ld, gold, lld, mold); " +
        "ld.so refuses to load it. From a library the link hints (NEEDED, imports, symbol order, function sizes, link warnings) " +
        "are kept, and programs linked against the stub are byte-identical to those linked against the library; " +
        "from a manifest the stub keeps what the manifest has. The same manifest always gives the same bytes. " +
        "A GNU ld linker script (glibc's libc.so) with --out-dir: each shared object it names is stubbed, and the " +
        "script is written beside them naming the stubs; archives (.a) and objects stay as they are.",
    )
    .argument("<input...>", "shared libraries or manifests (files, pipes or FIFOs, or - once), or linker scripts (files)")
    .option("-o, --output <file>", "write the stub of the one input to FILE (atomically)")
    .option("--out-dir <dir>", "write each stub as DIR/<SONAME>, and linker scripts as DIR/<their name>")
    .option("--write-if-changed", "leave an output that already has the same bytes untouched (mtime too), as llvm-ifs does")
    .option("--fsync", "flush each output to disk before it replaces the old one (off: outputs of a build)")
    .option("--json", "JSON Lines: {path (the input), output, kind, soname, written[, replaced]} per output")
    .option("-v, --verbose", "one line per output written")
    .option("-j, --jobs <n>", `threads at work (default: ${availableParallelism()}, the number of cores)`, parseJobs)
    .addHelpText(
      "after",
      `
Examples:
  abilink stub /usr/lib/x86_64-linux-gnu/libz.so.1 -o stubs/libz.so.1
  abilink abi --stable libfoo.so.1 -o libfoo.abi && abilink stub libfoo.abi -o stubs/libfoo.so.1
  abilink stub /usr/lib/x86_64-linux-gnu/libc.so /usr/lib/x86_64-linux-gnu/libm.so.6 --out-dir stubs
  cc main.c -Lstubs -lz -o main          # links as against libz; runs once relinked (abilink relink)

Loading a stub fails before anything runs: "error while loading shared libraries: libz.so.1: ELF load
command address/offset not page-aligned" (glibc), the same from dlopen. Stubs have no code.

Exit status: 0 every stub written; 1 an input is not a shared library, manifest or linker script (a
static library, an object file, a program), a manifest is malformed (FILE:LINE: why), two inputs
have one SONAME, or an output could not be written (the other outputs are still written);
2 usage error.`,
    )
    .action(async (inputs: string[], flags: StubFlags) => setExit(await runStub(inputs, flags)));
}
