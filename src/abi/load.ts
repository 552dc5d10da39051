import { isElf } from "../elf/index.js";
import { InputError, NotManifestError } from "../errors.js";
import { withElf } from "../io/file-source.js";
import { withInput, type StreamLimit } from "../io/input.js";
import { looksLikeManifest, parseManifest } from "./format.js";
import { extractManifest, notALibrary, type AbiManifest, type ExtractOptions } from "./manifest.js";

/** Where a manifest came from. */
export type ManifestSource = "elf" | "manifest";

/**
 * The largest manifest read: libLLVM-15's, the largest library here, is 4.7 MB with link
 * hints; a larger file is not a manifest (or not one worth parsing) and is refused unread.
 */
export const MAX_MANIFEST_BYTES = 64 << 20;

/**
 * The largest ELF file read from a pipe, which must be held in memory whole (a file is read
 * only where needed, whatever its size): libLLVM, the largest library here, is about 120 MB.
 */
export const MAX_PIPED_ELF_BYTES = 1 << 30;

const pipeLimit = (head: Uint8Array): StreamLimit =>
  isElf(head)
    ? { bytes: MAX_PIPED_ELF_BYTES, refusal: `an ELF file of more than ${MAX_PIPED_ELF_BYTES} bytes (1 GiB) through a pipe; name the file instead` }
    : { bytes: MAX_MANIFEST_BYTES, refusal: `not ELF, and more than ${MAX_MANIFEST_BYTES} bytes through a pipe: too large for a manifest` };

/** A manifest as read, and what to warn of (a program given where a library was expected). */
export interface LoadedManifest {
  manifest: AbiManifest;
  source: ManifestSource;
  warning?: string;
}

/**
 * Reads a shared library or a manifest, told apart by content, as a manifest: a regular
 * file (opened once, without blocking), a pipe or FIFO, or `-` for standard input (read
 * whole first, within MAX_PIPED_ELF_BYTES or MAX_MANIFEST_BYTES). Throws ElfError,
 * ManifestError, NotManifestError, InputError or a system error.
 */
export function loadManifest(path: string, options: ExtractOptions = {}): LoadedManifest {
  return withInput(path, pipeLimit, (source): LoadedManifest => {
    const fromElf = withElf(source, (elf) => ({ manifest: extractManifest(elf, options), warning: notALibrary(elf) }));
    if (fromElf) return { manifest: fromElf.manifest, source: "elf", ...(fromElf.warning ? { warning: fromElf.warning } : {}) };
    if (source.size > MAX_MANIFEST_BYTES) {
      throw new InputError(`not ELF, and at ${source.size} bytes too large for a manifest (at most ${MAX_MANIFEST_BYTES})`);
    }
    const bytes = source.read(0, source.size);
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
    if (!looksLikeManifest(text)) {
      throw new NotManifestError("neither an ELF file nor an abilink manifest (no ELF magic, no \"abilink-abi\" line)");
    }
    return { manifest: parseManifest(text, path), source: "manifest" };
  });
}
