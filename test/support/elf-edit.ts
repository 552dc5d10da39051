// Byte-level edits of 64-bit little-endian ELF files, for fixtures no linker makes (a
// program header cleared, a section header retyped or moved), and the program header
// table's place as GNU readelf reports it.
import { readFileSync, writeFileSync } from "node:fs";
import { execa } from "execa";

function elf64le(path: string): Buffer {
  const b = readFileSync(path);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error(`${path}: not a 64-bit little-endian ELF file`);
  return b;
}

/** Sets p_type of every program header of type `from` to `to`; returns how many. */
export function retypeProgramHeaders(path: string, from: number, to: number): number {
  const b = elf64le(path);
  const phoff = Number(b.readBigUInt64LE(0x20));
  const [ent, num] = [b.readUInt16LE(0x36), b.readUInt16LE(0x38)];
  let n = 0;
  for (let i = 0; i < num; i++) {
    if (b.readUInt32LE(phoff + i * ent) === from) {
      b.writeUInt32LE(to, phoff + i * ent);
      n++;
    }
  }
  writeFileSync(path, b);
  return n;
}

/** Adds `delta` to a field of the first program header of type `type`. */
export function shiftProgramHeaderField(path: string, type: number, field: "p_offset" | "p_vaddr", delta: bigint): void {
  const b = elf64le(path);
  const phoff = Number(b.readBigUInt64LE(0x20));
  const [ent, num] = [b.readUInt16LE(0x36), b.readUInt16LE(0x38)];
  for (let i = 0; i < num; i++) {
    const at = phoff + i * ent;
    if (b.readUInt32LE(at) !== type) continue;
    const o = at + (field === "p_offset" ? 8 : 16);
    b.writeBigUInt64LE(b.readBigUInt64LE(o) + delta, o);
    writeFileSync(path, b);
    return;
  }
  throw new Error(`${path}: no program header of type ${type}`);
}

const SECTION_FIELDS = { sh_type: [4, 4], sh_addr: [16, 8], sh_offset: [24, 8], sh_link: [40, 4] } as const;

/** Sets a field of the section header named `name`. */
export function setSectionField(path: string, name: string, field: keyof typeof SECTION_FIELDS, value: bigint): void {
  const b = elf64le(path);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const [ent, num, strndx] = [b.readUInt16LE(0x3a), b.readUInt16LE(0x3c), b.readUInt16LE(0x3e)];
  const names = Number(b.readBigUInt64LE(shoff + strndx * ent + 24));
  for (let i = 0; i < num; i++) {
    const at = shoff + i * ent;
    const start = names + b.readUInt32LE(at);
    if (b.toString("latin1", start, b.indexOf(0, start)) !== name) continue;
    const [o, size] = SECTION_FIELDS[field];
    if (size === 4) b.writeUInt32LE(Number(value), at + o);
    else b.writeBigUInt64LE(value, at + o);
    writeFileSync(path, b);
    return;
  }
  throw new Error(`${path}: no section ${name}`);
}

export interface SegmentRow {
  type: string;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
}

/** The program header table's offset and size, and the program headers, from `readelf -hlW`. */
export async function programHeaderTable(path: string): Promise<{ phoff: bigint; size: bigint; rows: SegmentRow[]; stderr: string }> {
  const r = await execa("readelf", ["-hlW", path], { env: { LC_ALL: "C" } });
  const num = (re: RegExp) => BigInt(r.stdout.match(re)![1]!);
  const rows = [...r.stdout.matchAll(/^\s+([A-Z_]+|LOOS\+0x[0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/gm)].map((m) => ({
    type: m[1]!,
    offset: BigInt(`0x${m[2]}`),
    vaddr: BigInt(`0x${m[3]}`),
    filesz: BigInt(`0x${m[4]}`),
  }));
  const size = num(/Size of program headers:\s+(\d+)/) * num(/Number of program headers:\s+(\d+)/);
  return { phoff: num(/Start of program headers:\s+(\d+)/), size, rows, stderr: r.stderr };
}

/**
 * What the loaders need of a moved table, as problems (none: all met): a PT_LOAD maps it,
 * PT_PHDR describes it at the address that PT_LOAD gives it, PT_INTERP precedes every
 * PT_LOAD, and (`runnable`) kernels before 5.18, which take AT_PHDR = the first PT_LOAD's
 * vaddr − offset + e_phoff, find it there.
 */
export async function tableProblems(path: string, runnable: boolean): Promise<string[]> {
  const { phoff, size, rows } = await programHeaderTable(path);
  const problems: string[] = [];
  const loads = rows.filter((r) => r.type === "LOAD");
  const holder = loads.find((l) => l.offset <= phoff && phoff + size <= l.offset + l.filesz);
  if (!holder) return ["no PT_LOAD maps the program header table"];
  const addr = holder.vaddr + (phoff - holder.offset);
  const phdr = rows.find((r) => r.type === "PHDR");
  if (phdr && (phdr.offset !== phoff || phdr.vaddr !== addr || phdr.filesz !== size)) problems.push("PT_PHDR does not describe the table");
  const interp = rows.findIndex((r) => r.type === "INTERP");
  if (interp >= 0 && interp > rows.indexOf(loads[0]!)) problems.push("PT_INTERP after a PT_LOAD");
  if (runnable && loads[0]!.vaddr - loads[0]!.offset + phoff !== addr) problems.push("AT_PHDR of kernels before 5.18 misses the table");
  return problems;
}
