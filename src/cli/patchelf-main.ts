// Entry point for `abilink patchelf ...`, loaded by bin/abilink without the rest of the CLI:
// build scripts call patchelf once per file, so start-up time counts.
import { rawArgv } from "../io/paths.js";
import { runPatchelf } from "./patchelf.js";

// A reader of stderr that went away must not turn a message into a crash.
process.stderr.on("error", () => {});

runPatchelf(rawArgv().slice(3)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`abilink: internal error: ${(e as Error)?.stack ?? e}\n`);
    process.exitCode = 70;
  },
);
