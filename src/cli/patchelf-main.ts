// Entry point for `abilink patchelf ...`, loaded by bin/abilink without the rest of the CLI:
// build scripts call patchelf once per file, so start-up time counts.
import { runPatchelf } from "./patchelf.js";

try {
  process.exitCode = runPatchelf(process.argv.slice(3));
} catch (e) {
  process.stderr.write(`abilink: internal error: ${(e as Error)?.stack ?? e}\n`);
  process.exitCode = 70;
}
