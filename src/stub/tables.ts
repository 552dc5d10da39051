// The stub's fixed-format tables, encoded: version definitions and requirements, program
// headers, and the .hash bucket count.
import { PT_LOAD, VERDAUX, VERDEF, VER_FLG_BASE, VERNAUX, VERNEED, type ProgramHeader } from "../elf/index.js";
import { Encoder, StringTableBuilder, sysvHash, writeStruct } from "../elf/write/index.js";

const utf8 = new TextEncoder();

export function load(offset: number, vaddr: bigint, filesz: number, memsz: bigint, flags: number, align: bigint): ProgramHeader {
  return { p_type: PT_LOAD, p_flags: flags, p_offset: BigInt(offset), p_vaddr: vaddr, p_paddr: vaddr, p_filesz: BigInt(filesz), p_memsz: memsz, p_align: align };
}

export function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A bucket count as GNU ld picks it for .hash: the largest of its primes not above the symbol count. */
export function sysvBuckets(count: number): number {
  const primes = [1, 3, 17, 37, 67, 97, 131, 197, 263, 521, 1031, 2053, 4099, 8209, 16411, 32771, 65537, 131101];
  let best = 1;
  for (const p of primes) if (p <= count) best = p;
  return best;
}

export function encodeVerdefs(defs: { name: string; index: number; base: boolean }[], strings: StringTableBuilder, little: boolean): Uint8Array {
  const out = new Uint8Array(defs.length * (VERDEF.size + VERDAUX.size));
  const e = new Encoder(out, little);
  defs.forEach((d, i) => {
    const at = i * (VERDEF.size + VERDAUX.size);
    writeStruct(e, at, VERDEF, {
      vd_version: 1,
      vd_flags: d.base ? VER_FLG_BASE : 0,
      vd_ndx: d.index,
      vd_cnt: 1,
      vd_hash: sysvHash(utf8.encode(d.name)),
      vd_aux: VERDEF.size,
      vd_next: i + 1 < defs.length ? VERDEF.size + VERDAUX.size : 0,
    });
    writeStruct(e, at + VERDEF.size, VERDAUX, { vda_name: strings.offsetOf(d.name), vda_next: 0 });
  });
  return out;
}

export function encodeVerneeds(needs: { file: string; versions: { name: string; index: number }[] }[], strings: StringTableBuilder, little: boolean): Uint8Array {
  const size = needs.reduce((n, x) => n + VERNEED.size + x.versions.length * VERNAUX.size, 0);
  const out = new Uint8Array(size);
  const e = new Encoder(out, little);
  let at = 0;
  needs.forEach((n, i) => {
    const own = VERNEED.size + n.versions.length * VERNAUX.size;
    writeStruct(e, at, VERNEED, { vn_version: 1, vn_cnt: n.versions.length, vn_file: strings.offsetOf(n.file), vn_aux: VERNEED.size, vn_next: i + 1 < needs.length ? own : 0 });
    n.versions.forEach((v, j) => {
      writeStruct(e, at + VERNEED.size + j * VERNAUX.size, VERNAUX, {
        vna_hash: sysvHash(utf8.encode(v.name)),
        vna_flags: 0,
        vna_other: v.index,
        vna_name: strings.offsetOf(v.name),
        vna_next: j + 1 < n.versions.length ? VERNAUX.size : 0,
      });
    });
    at += own;
  });
  return out;
}
