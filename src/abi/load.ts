import { readFileSync } from "node:fs";
import { NotManifestError } from "../errors.js";
import { withElfFile } from "../io/file-source.js";
import { looksLikeManifest, parseManifest } from "./format.js";
import { extractManifest, type AbiManifest, type ExtractOptions } from "./manifest.js";

/** Where a manifest came from. */
export type ManifestSource = "elf" | "manifest";

/**
 * Reads a shared library or a manifest file, told apart by content, as a manifest.
 * Throws ElfError, ManifestError or a system error.
 */
export function loadManifest(path: string, options: ExtractOptions = {}): { manifest: AbiManifest; source: ManifestSource } {
  const manifest = withElfFile(path, (elf) => extractManifest(elf, options));
  if (manifest) return { manifest, source: "elf" };
  const text = readFileSync(path, "utf8");
  if (!looksLikeManifest(text)) {
    throw new NotManifestError("neither an ELF file nor an abilink manifest (no ELF magic, no \"abilink-abi\" line)");
  }
  return { manifest: parseManifest(text, path), source: "manifest" };
}
