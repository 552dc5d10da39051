// Entry point for `abilink patchelf ...` and for bin/abilink run through a link named
// `patchelf`, loaded by bin/abilink (bundled: scripts/bundle.mjs) without the rest of the CLI:
// build scripts call patchelf once per file, so start-up time counts.
import { rawArgv } from "../io/paths.js";
import { runPatchelf } from "./patchelf.js";

// Called as `patchelf ARGS...` every argument is patchelf's; as `abilink patchelf ARGS...`, all after the first.
const argv = rawArgv();
const args = /(?:^|\/)patchelf$/.test(argv[1] ?? "") ? argv.slice(2) : argv.slice(3);

// A reader of stderr that went away must not turn a message into a crash.
process.stderr.on("error", () => {});

runPatchelf(args).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`abilink: internal error: ${(e as Error)?.stack ?? e}\n`);
    process.exitCode = 70;
  },
);
