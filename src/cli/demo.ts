import type { Command } from "commander";
import { runDemo } from "../demo/run.js";
import { EXIT_INPUT_ERROR, EXIT_OK } from "./exit-codes.js";
import { jsonLine, out, warnError } from "./output.js";

export interface DemoFlags {
  keep?: string;
  json?: boolean;
}

/** `abilink demo [--keep DIR] [--json]`: the transcript as it runs, or one JSON document at the end. */
export async function runDemoCommand(flags: DemoFlags): Promise<number> {
  try {
    const result = await runDemo({ keep: flags.keep, print: flags.json ? null : out });
    if (flags.json) out(jsonLine(result));
    return EXIT_OK;
  } catch (e) {
    warnError("demo", e);
    return EXIT_INPUT_ERROR;
  }
}

export function registerDemo(program: Command, setExit: (code: number) => void): void {
  program
    .command("demo")
    .summary("the whole story in one run: stub, table, relink after a fix, an ABI break refused, glibc moved")
    .description(
      "In a temporary directory, with gcc only: build libdemo 1.0, 1.0.1 (a security fix, same ABI) and 2.0 (an ABI " +
        "break) from the C sources in the package's demo/; check 1.0 against the committed manifest demo/libdemo.abi " +
        "(on another machine than x86_64, 1.0's own manifest stands in for it), " +
        "make the stub from it, and compile a second library and two programs against the stub; make a table of 1.0 " +
        "and relink them onto it; then a table of 1.0.1 and relink again, with no compiler on PATH (same hash, same " +
        "stub bytes); show diff, table --expect and relink refusing 2.0 (exit 12); and move copies of ls, cat and sort " +
        "from one copy of this system's glibc to another (LD_DEBUG=libs). Each command is printed before its output " +
        "($D is the demo's directory); a summary says what was rebuilt (nothing) and rewritten.",
    )
    .option("--keep <dir>", "work in DIR (made; it must not exist) and keep it, to look at the store and rerun the commands")
    .option("--json", "one JSON document at the end: each step's results (hashes, stub sha256, versions printed, exit statuses), the commands (argv, exit status, PATH) and the summary")
    .addHelpText(
      "after",
      `
Examples:
  abilink demo                      # a few seconds; the transcript on stdout
  abilink demo --keep /tmp/d        # then: ls /tmp/d/store; cat /tmp/d/store/*-libdemo-table-1.0.1/abilink-table
  abilink demo --json | jq '.steps.fix'

Exit status: 0 every step gave what it shows; 1 gcc is missing, or a step did not (one line says which);
128 + the signal's number on SIGINT, SIGTERM or SIGHUP (130, 143, 129), the temporary directory removed.`,
    )
    .action(async (flags: DemoFlags) => setExit(await runDemoCommand(flags)));
}
