// The writer layer driven the way a stub writer drives it: a shared object built from
// nothing (reserve every piece, then write each once), checked by readelf and eu-elflint,
// read back by abilink's own reader, and loaded by ld.so, which finds each symbol through
// the GNU or the System V hash table the builders made.
import { execa } from "execa";
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BufferSource,
  DT_GNU_HASH,
  DT_HASH,
  DT_NULL,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  DT_SYMENT,
  DT_SYMTAB,
  EI_NIDENT,
  ET_DYN,
  EM_X86_64,
  ElfFile,
  PF_R,
  PF_W,
  PT_DYNAMIC,
  PT_GNU_STACK,
  PT_LOAD,
  SHF_ALLOC,
  SHF_WRITE,
  SHT_DYNAMIC,
  SHT_DYNSYM,
  SHT_GNU_HASH,
  SHT_HASH,
  SHT_PROGBITS,
  SHT_STRTAB,
  STB_GLOBAL,
  STT_OBJECT,
  dynamicEntryLayout,
  elfHeaderLayout,
  programHeaderLayout,
  sectionHeaderLayout,
  symbolLayout,
  type ProgramHeader,
  type RawSectionHeader,
} from "../../../src/elf/index.js";
import {
  Encoder,
  FileBuilder,
  StringTableBuilder,
  buildGnuHash,
  buildSysvHash,
  gnuHashOrder,
  gnuHashShape,
  writeStruct,
} from "../../../src/elf/write/index.js";
import { hasTool } from "../../support/tools.js";

const utf8 = new TextEncoder();
const PAGE = 0x1000n;

/**
 * An x86_64 shared object exporting each name as a data object holding the string
 * `value of NAME`, with the hash tables asked for.
 */
function buildSharedObject(soname: string, names: readonly string[], hashes: { gnu: boolean; sysv: boolean }): Uint8Array {
  const sym = symbolLayout(true);
  const dyn = dynamicEntryLayout(true);
  const ph = programHeaderLayout(true);
  const sh = sectionHeaderLayout(true);

  // What does not depend on addresses comes first: strings, symbol order, hash tables, data.
  const dynstr = new StringTableBuilder();
  dynstr.add(soname);
  for (const n of names) dynstr.add(n);
  const dynstrBytes = dynstr.finish();
  const shape = gnuHashShape(1, names.length, true);
  const byIndex = ["", ...names];
  const order = gnuHashOrder(byIndex.map((n) => utf8.encode(n)), shape).map((i) => byIndex[i]!);
  const orderedBytes = order.map((n) => utf8.encode(n));
  const gnu = hashes.gnu ? buildGnuHash(orderedBytes, shape, true, true) : null;
  const sysv = hashes.sysv ? buildSysvHash(orderedBytes, Math.max(1, order.length >> 1), 4, true) : null;
  const values = order.slice(1).map((n) => utf8.encode(`value of ${n}\0`));
  const dataOffsets: number[] = [];
  let dataSize = 0;
  for (const v of values) {
    dataOffsets.push(dataSize);
    dataSize += Math.ceil(v.length / 8) * 8;
  }
  const shstrtab = new StringTableBuilder();
  const sectionNames = ["", ...(sysv ? [".hash"] : []), ...(gnu ? [".gnu.hash"] : []), ".dynsym", ".dynstr", ".dynamic", ".data", ".shstrtab"];
  for (const n of sectionNames) shstrtab.add(n);
  const shstrtabBytes = shstrtab.finish();
  const dynamicTags = [DT_SONAME, ...(sysv ? [DT_HASH] : []), ...(gnu ? [DT_GNU_HASH] : []), DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_NULL];

  // Reserve.
  const fb = new FileBuilder();
  const text = fb.segment(0n, PAGE);
  const ehdr = fb.reserve("ELF header", EI_NIDENT + elfHeaderLayout(true).size, 8);
  const phdrs = fb.reserve("program headers", 4 * ph.size, 8);
  const hashR = sysv ? fb.reserve(".hash", sysv.length, 8) : null;
  const gnuR = gnu ? fb.reserve(".gnu.hash", gnu.length, 8) : null;
  const dynsymR = fb.reserve(".dynsym", order.length * sym.size, 8);
  const dynstrR = fb.reserve(".dynstr", dynstrBytes.length, 1);
  const textEnd = dynstrR.offset + dynstrR.size;
  const data = fb.segment(text.vaddr + BigInt(textEnd - text.offset), PAGE);
  const dynamicR = fb.reserve(".dynamic", dynamicTags.length * dyn.size, 8);
  const dataR = fb.reserve(".data", dataSize, 8);
  const dataEnd = dataR.offset + dataR.size;
  const shstrR = fb.reserve(".shstrtab", shstrtabBytes.length, 1);
  const shdrs = fb.reserve("section headers", sectionNames.length * sh.size, 8);

  // Write, each piece once.
  const header = new Uint8Array(ehdr.size);
  header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  writeStruct(new Encoder(header, true), EI_NIDENT, elfHeaderLayout(true), {
    e_type: ET_DYN,
    e_machine: EM_X86_64,
    e_version: 1,
    e_entry: 0n,
    e_phoff: BigInt(phdrs.offset),
    e_shoff: BigInt(shdrs.offset),
    e_flags: 0,
    e_ehsize: header.length,
    e_phentsize: ph.size,
    e_phnum: 4,
    e_shentsize: sh.size,
    e_shnum: sectionNames.length,
    e_shstrndx: sectionNames.indexOf(".shstrtab"),
  });
  fb.write(ehdr, header);
  const load = (offset: number, vaddr: bigint, size: number, flags: number): ProgramHeader => ({
    p_type: PT_LOAD, p_flags: flags, p_offset: BigInt(offset), p_vaddr: vaddr, p_paddr: vaddr, p_filesz: BigInt(size), p_memsz: BigInt(size), p_align: PAGE,
  });
  const table = new Uint8Array(phdrs.size);
  const pe = new Encoder(table, true);
  [
    load(text.offset, text.vaddr, textEnd - text.offset, PF_R),
    load(data.offset, data.vaddr, dataEnd - data.offset, PF_R | PF_W),
    { ...load(dynamicR.offset, dynamicR.vaddr, dynamicR.size, PF_R | PF_W), p_type: PT_DYNAMIC, p_align: 8n },
    { p_type: PT_GNU_STACK, p_flags: PF_R | PF_W, p_offset: 0n, p_vaddr: 0n, p_paddr: 0n, p_filesz: 0n, p_memsz: 0n, p_align: 16n },
  ].forEach((p, i) => writeStruct(pe, i * ph.size, ph, p));
  fb.write(phdrs, table);
  if (hashR) fb.write(hashR, sysv!);
  if (gnuR) fb.write(gnuR, gnu!);
  const dataIndex = sectionNames.indexOf(".data");
  const symtab = new Uint8Array(dynsymR.size);
  const se = new Encoder(symtab, true);
  order.forEach((n, i) => {
    if (i === 0) return;
    writeStruct(se, i * sym.size, sym, {
      st_name: dynstr.offsetOf(n),
      st_info: (STB_GLOBAL << 4) | STT_OBJECT,
      st_other: 0,
      st_shndx: dataIndex,
      st_value: dataR.vaddr + BigInt(dataOffsets[i - 1]!),
      st_size: BigInt(values[i - 1]!.length),
    });
  });
  fb.write(dynsymR, symtab);
  fb.write(dynstrR, dynstrBytes);
  const dynValue: Record<number, bigint> = {
    [DT_SONAME]: BigInt(dynstr.offsetOf(soname)),
    [DT_HASH]: hashR?.vaddr ?? 0n,
    [DT_GNU_HASH]: gnuR?.vaddr ?? 0n,
    [DT_STRTAB]: dynstrR.vaddr,
    [DT_SYMTAB]: dynsymR.vaddr,
    [DT_STRSZ]: BigInt(dynstrBytes.length),
    [DT_SYMENT]: BigInt(sym.size),
    [DT_NULL]: 0n,
  };
  const dynBytes = new Uint8Array(dynamicR.size);
  dynamicTags.forEach((t, i) => writeStruct(new Encoder(dynBytes, true), i * dyn.size, dyn, { d_tag: BigInt(t), d_val: dynValue[t]! }));
  fb.write(dynamicR, dynBytes);
  const dataBytes = new Uint8Array(dataR.size);
  values.forEach((v, i) => dataBytes.set(v, dataOffsets[i]!));
  fb.write(dataR, dataBytes);
  fb.write(shstrR, shstrtabBytes);
  const dynsymIndex = sectionNames.indexOf(".dynsym");
  const dynstrIndex = sectionNames.indexOf(".dynstr");
  const section = (name: string, type: number, flags: number, r: { offset: number; vaddr: bigint; size: number } | null, link = 0, info = 0, align = 8, entsize = 0): RawSectionHeader => ({
    sh_name: shstrtab.offsetOf(name), sh_type: type, sh_flags: BigInt(flags), sh_addr: r && flags & SHF_ALLOC ? r.vaddr : 0n,
    sh_offset: BigInt(r?.offset ?? 0), sh_size: BigInt(r?.size ?? 0), sh_link: link, sh_info: info, sh_addralign: BigInt(r ? align : 0), sh_entsize: BigInt(entsize),
  });
  const sections: RawSectionHeader[] = [
    section("", 0, 0, null, 0, 0, 0),
    ...(hashR ? [section(".hash", SHT_HASH, SHF_ALLOC, hashR, dynsymIndex, 0, 8, 4)] : []),
    ...(gnuR ? [section(".gnu.hash", SHT_GNU_HASH, SHF_ALLOC, gnuR, dynsymIndex, 0, 8)] : []),
    section(".dynsym", SHT_DYNSYM, SHF_ALLOC, dynsymR, dynstrIndex, 1, 8, sym.size),
    section(".dynstr", SHT_STRTAB, SHF_ALLOC, dynstrR, 0, 0, 1),
    section(".dynamic", SHT_DYNAMIC, SHF_ALLOC | SHF_WRITE, dynamicR, dynstrIndex, 0, 8, dyn.size),
    section(".data", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, dataR, 0, 0, 8),
    section(".shstrtab", SHT_STRTAB, 0, shstrR, 0, 0, 1),
  ];
  const shBytes = new Uint8Array(shdrs.size);
  sections.forEach((s, i) => writeStruct(new Encoder(shBytes, true), i * sh.size, sh, s));
  fb.write(shdrs, shBytes);
  return fb.finish();
}

const tools = hasTool("gcc", "gcc") && hasTool("readelf", "binutils") && hasTool("eu-elflint", "elfutils");
const work = mkdtempSync(join(tmpdir(), "alw-"));
afterAll(() => process.env.KEEP ? undefined : rmSync(work, { recursive: true, force: true }));

describe.skipIf(!tools)("FileBuilder: a shared object built from nothing", () => {
  const loader = join(work, "dlopen-print");
  beforeAll(async () => {
    await execa("gcc", ["-O1", "-o", loader, new URL("../../../testdata/src/dlopen-print.c", import.meta.url).pathname, "-ldl"]);
  });
  const NAMES = ["abilink_alpha", "abilink_beta", "abilink_gamma_with_a_longer_name", "x", "abilink_beta2"];

  for (const hashes of [{ gnu: true, sysv: true }, { gnu: true, sysv: false }, { gnu: false, sysv: true }]) {
    const label = `${hashes.gnu ? "GNU" : ""}${hashes.gnu && hashes.sysv ? " and " : ""}${hashes.sysv ? "System V" : ""} hash`;
    it(`with ${label}: readelf and eu-elflint accept it, abilink reads it, ld.so finds every symbol`, async () => {
      const file = join(work, `libbuilt-${hashes.gnu}-${hashes.sysv}.so`);
      writeFileSync(file, buildSharedObject("libbuilt.so.1", NAMES, hashes));
      const re = await execa("readelf", ["-aW", file], { env: { LC_ALL: "C" }, reject: false });
      expect(re.stderr).toBe("");
      expect(re.stdout).toMatch(/\(SONAME\)\s+Library soname: \[libbuilt\.so\.1\]/);
      const lint = await execa("eu-elflint", ["--gnu-ld", "-q", file], { reject: false });
      expect(lint.stdout.trim()).toBe("");
      const elf = ElfFile.parse(new BufferSource(new Uint8Array((await import("node:fs")).readFileSync(file))));
      expect(elf.dynamicSymbols.map((s) => s.name).sort()).toEqual([...NAMES].sort());
      const run = await execa(loader, [file, ...NAMES, "abilink_not_there"], { reject: false });
      expect(run.stdout.split("\n")).toEqual([...NAMES.map((n) => `${n}=value of ${n}`), "abilink_not_there missing"]);
    });
  }

  it("random name sets: ld.so finds every one through the GNU hash table alone", async () => {
    const sets = fc.sample(fc.uniqueArray(fc.stringMatching(/^[a-z_][a-z0-9_]{0,20}$/), { minLength: 1, maxLength: 80 }), { numRuns: 8, seed: 11 });
    for (const [k, names] of sets.entries()) {
      const file = join(work, `librandom-${k}.so`);
      writeFileSync(file, buildSharedObject("librandom.so", names, { gnu: true, sysv: false }));
      const run = await execa(loader, [file, ...names], { reject: false });
      expect(run.stdout.split("\n")).toEqual(names.map((n) => `${n}=value of ${n}`));
    }
  });
});
