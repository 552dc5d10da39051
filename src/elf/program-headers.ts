import { Decoder, checkedRange, type ByteSource } from "./bytes.js";
import { MalformedError } from "./errors.js";
import type { ElfHeader } from "./header.js";
import { nameTable } from "./names.js";
import { programHeaderLayout, type ProgramHeader } from "./structs.js";

export type { ProgramHeader };

export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_SHLIB = 5;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_EH_FRAME = 0x6474e550;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;
export const PT_GNU_PROPERTY = 0x6474e553;

export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

const genericNames: Record<number, string> = {
  [PT_NULL]: "NULL",
  [PT_LOAD]: "LOAD",
  [PT_DYNAMIC]: "DYNAMIC",
  [PT_INTERP]: "INTERP",
  [PT_NOTE]: "NOTE",
  [PT_SHLIB]: "SHLIB",
  [PT_PHDR]: "PHDR",
  [PT_TLS]: "TLS",
  [PT_GNU_EH_FRAME]: "GNU_EH_FRAME",
  [PT_GNU_STACK]: "GNU_STACK",
  [PT_GNU_RELRO]: "GNU_RELRO",
  [PT_GNU_PROPERTY]: "GNU_PROPERTY",
  0x6474e554: "GNU_SFRAME",
  0x65a3dbe6: "OPENBSD_RANDOMIZE",
  0x65a3dbe7: "OPENBSD_WXNEEDED",
  0x70000000: "LOPROC+0",
  0x70000001: "LOPROC+1",
  0x70000002: "LOPROC+2",
  0x70000003: "LOPROC+3",
};

/** Segment type names; processor-specific values get the machine's name where one is known. */
export function segmentTypeName(p_type: number, e_machine?: number): string {
  if (e_machine === 40 && p_type === 0x70000001) return "ARM_EXIDX";
  if (e_machine === 183 && p_type === 0x70000000) return "AARCH64_ARCHEXT";
  if (e_machine === 183 && p_type === 0x70000002) return "AARCH64_MEMTAG_MTE";
  if (e_machine === 8 && p_type === 0x70000000) return "MIPS_REGINFO";
  if (e_machine === 8 && p_type === 0x70000002) return "MIPS_OPTIONS";
  if (e_machine === 8 && p_type === 0x70000003) return "MIPS_ABIFLAGS";
  if (e_machine === 243 && p_type === 0x70000003) return "RISCV_ATTRIBUTES";
  return fallbackName(p_type);
}
const fallbackName = nameTable("PT", genericNames);

/** Reads `phnum` program headers (the caller resolves PN_XNUM). */
export function parseProgramHeaders(source: ByteSource, header: ElfHeader, phnum: number): ProgramHeader[] {
  if (phnum === 0) return [];
  const layout = programHeaderLayout(header.class === 64);
  const entsize = header.e_phentsize;
  if (entsize < layout.size) {
    throw new MalformedError(`e_phentsize ${entsize} is smaller than a program header`);
  }
  const r = checkedRange(header.e_phoff, BigInt(entsize) * BigInt(phnum), source.size, "program header table");
  const d = new Decoder(source.read(r.offset, r.length), header.little, r.offset);
  const out: ProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) out.push(layout.read(d, i * entsize));
  return out;
}
