import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { InputError, NotManifestError } from "../errors.js";
import { readAll } from "../io/atomic-write.js";
import { withElfFd } from "../io/file-source.js";
import { fsPath } from "../io/paths.js";
import { looksLikeManifest, parseManifest } from "./format.js";
import { extractManifest, type AbiManifest, type ExtractOptions } from "./manifest.js";

/** Where a manifest came from. */
export type ManifestSource = "elf" | "manifest";

/**
 * The largest manifest read: libLLVM-15's, the largest library here, is 4.7 MB with link
 * hints; a larger file is not a manifest (or not one worth parsing) and is refused unread.
 */
export const MAX_MANIFEST_BYTES = 64 << 20;

/**
 * Reads a shared library or a manifest file, told apart by content, as a manifest. The
 * file is opened once, without blocking, and must be a regular file. Throws ElfError,
 * ManifestError, NotManifestError, InputError or a system error.
 */
export function loadManifest(path: string, options: ExtractOptions = {}): { manifest: AbiManifest; source: ManifestSource } {
  const fd = openSync(fsPath(path), constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputError(st.isDirectory() ? "is a directory, not a library or manifest" : "not a regular file");
    const manifest = withElfFd(fd, path, (elf) => extractManifest(elf, options));
    if (manifest) return { manifest, source: "elf" };
    if (st.size > MAX_MANIFEST_BYTES) {
      throw new InputError(`not ELF, and at ${st.size} bytes too large for a manifest (at most ${MAX_MANIFEST_BYTES})`);
    }
    const bytes = new Uint8Array(st.size);
    readAll(fd, bytes, st.size, 0);
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
    if (!looksLikeManifest(text)) {
      throw new NotManifestError("neither an ELF file nor an abilink manifest (no ELF magic, no \"abilink-abi\" line)");
    }
    return { manifest: parseManifest(text, path), source: "manifest" };
  } finally {
    closeSync(fd);
  }
}
