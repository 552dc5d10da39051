import { createHash } from "node:crypto";
import type { AbiManifest } from "./manifest.js";
import { writeManifest, type PrintOptions } from "./format.js";

/** Bumped whenever what is hashed, or how, changes; it prefixes every hash. */
export const HASH_SCHEME = "abi2";

const ELFOSABI_SYSV = 0;
const ELFOSABI_GNU = 3;

/** Largest power of two not above `n` (1 for n < 2). */
function floorPow2(n: number): number {
  let p = 1;
  while (p * 2 <= n && p < 2 ** 30) p *= 2;
  return p;
}

/** Alignment up to this many bytes carries no interface information (see normalizedAlignment). */
export const ALIGNMENT_NOISE = 32;

/**
 * The alignment that is hashed and compared. The observed value mixes three things:
 * - the alignment the type needs;
 * - what the compiler chose on its own: psABI rules, and gcc -O2's 32-byte alignment of
 *   aggregates of 32 bytes or more;
 * - where the object happened to land: any address bit up to its section's alignment.
 * The last two change between -O0 and -O2, gcc and clang, and any rebuild that moves data.
 * So an observed alignment up to 32 bytes hashes as min(floorPow2(size), 32), a function of
 * the size alone. Only an alignment above 32, which takes an explicit request such as
 * `_Alignas(64)`, hashes as observed.
 */
export function normalizedAlignment(size: number, align: number): number {
  return align > ALIGNMENT_NOISE ? align : Math.min(floorPow2(size), ALIGNMENT_NOISE);
}

/**
 * The hashed form (`abi --stable`): the manifest without link hints, with every alignment
 * normalized, `relro` data printed as `readonly` (what a consumer sees either way) and OS/ABI GNU folded into SYSV (the linker sets GNU merely because IFUNC or
 * GNU_UNIQUE symbols are present). Rebuilds that keep the hash keep this text.
 */
export function stableForm(m: AbiManifest): { manifest: AbiManifest; options: PrintOptions } {
  const ei_osabi = m.ei_osabi === ELFOSABI_GNU ? ELFOSABI_SYSV : m.ei_osabi;
  const { hints: _hints, ...rest } = m;
  return { manifest: { ...rest, ei_osabi }, options: { hints: false, alignment: normalizedAlignment, relro: false } };
}

/** The text that is hashed: the canonical text of the hashed form (stableForm). */
export function hashedText(m: AbiManifest): string {
  const parts: string[] = [];
  writeHashedText(m, (text) => parts.push(text));
  return parts.join("");
}

function writeHashedText(m: AbiManifest, write: (text: string) => void): void {
  const { manifest, options } = stableForm(m);
  writeManifest(manifest, options, write);
}

const NIX_BASE32 = "0123456789abcdfghijklmnpqrsvwxyz";

/** Nix's base-32 (as in store path names): least significant 5-bit group last. */
export function nixBase32(bytes: Uint8Array): string {
  const len = Math.ceil((bytes.length * 8) / 5);
  let out = "";
  for (let n = len - 1; n >= 0; n--) {
    const b = n * 5;
    const i = Math.floor(b / 8);
    const j = b % 8;
    const c = ((bytes[i]! >> j) | (i + 1 < bytes.length ? bytes[i + 1]! << (8 - j) : 0)) & 0x1f;
    out += NIX_BASE32[c];
  }
  return out;
}

/** Nix's compressHash: XOR-fold a digest to `size` bytes. */
function compress(digest: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  digest.forEach((b, i) => (out[i % size]! ^= b));
  return out;
}

/**
 * `abi2-` followed by 32 Nix base-32 characters: SHA-256 of the canonical text of the
 * hashed form, folded to 160 bits like a store path hash. Usable in a store path name.
 */
export function abiHash(m: AbiManifest): string {
  const sha = createHash("sha256");
  writeHashedText(m, (text) => sha.update(text));
  const digest = sha.digest();
  return `${HASH_SCHEME}-${nixBase32(compress(digest, 20))}`;
}
