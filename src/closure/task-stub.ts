// One input of `abilink stub`: a shared library or manifest becomes the stub's bytes; a GNU
// ld linker script is handed back, to be expanded into the libraries it names.
import { loadManifest } from "../abi/load.js";
import { InputError, NotManifestError } from "../errors.js";
import { readSmallFile } from "../io/file-source.js";
import { buildStub } from "../stub/build.js";
import { looksLikeLinkerScript } from "../stub/linker-script.js";
import { failure, type StubOutcome } from "./outcomes.js";

/** Linker scripts are a few lines; anything larger is not one. */
const MAX_SCRIPT_BYTES = 1 << 20;
const AR_MAGIC = "!<arch>\n";

/** The stub of one library or manifest (link hints kept from a library), or its linker script; never throws. */
export function stubOne(path: string): StubOutcome {
  try {
    const { manifest, warning } = loadManifest(path, { hints: true });
    if (warning) throw new InputError(`${warning.replace(/:.*$/, "")}: a stub stands for a shared library`);
    return { kind: "stub", path, soname: manifest.soname, bytes: buildStub(manifest) };
  } catch (e) {
    if (!(e instanceof NotManifestError)) return failure(path, e);
    try {
      const text = new TextDecoder().decode(readSmallFile(path, MAX_SCRIPT_BYTES));
      if (text.startsWith(AR_MAGIC)) return failure(path, new InputError("is a static library (ar archive), not a shared library: programs link its code in, so there is nothing to stub"));
      if (looksLikeLinkerScript(text)) return { kind: "script", path, text };
    } catch {
      // Too large or unreadable now: the first error says what it is not.
    }
    return failure(path, e);
  }
}
