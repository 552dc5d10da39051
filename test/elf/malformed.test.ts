import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  BufferSource,
  DT_STRSZ,
  DT_STRTAB,
  DT_VERDEF,
  DT_VERNEEDNUM,
  ElfFile,
  MalformedError,
  NotElfError,
  PT_INTERP,
  TruncatedError,
  UnsupportedElfError,
  VERDEF_SIZE,
} from "../../src/elf/index.js";
import { readEverything } from "../support/read-all.js";

const fixture = (p: string) => new Uint8Array(readFileSync(new URL(`../../testdata/fixtures/${p}`, import.meta.url)));
const parse = (b: Uint8Array) => ElfFile.parse(new BufferSource(b));

function expectError<T extends Error>(fn: () => unknown, type: new (...a: never[]) => T, message: RegExp): T {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(type);
    expect((e as Error).message).toMatch(message);
    return e as T;
  }
  throw new Error("expected an error");
}

function setU32(b: Uint8Array, at: number, v: number, little = true) {
  new DataView(b.buffer, b.byteOffset).setUint32(at, v, little);
}

/** File offset of the dynamic entry with `tag` (its d_val field) in an ELF64 LE file. */
function dynValueOffset(bytes: Uint8Array, tag: number): number {
  const elf = parse(bytes);
  const dyn = elf.dynamic!;
  const i = dyn.entries.findIndex((e) => e.d_tag === BigInt(tag));
  expect(i).toBeGreaterThanOrEqual(0);
  return dyn.offset + i * (elf.is64 ? 16 : 8) + (elf.is64 ? 8 : 4);
}

describe("malformed input is rejected with the library's error types", () => {
  it("not ELF", () => {
    expectError(() => parse(new TextEncoder().encode("#!/bin/sh\necho hi\n")), NotElfError, /not an ELF file/);
    expectError(() => parse(new Uint8Array(0)), NotElfError, /not an ELF file/);
  });

  it("unknown class or data encoding", () => {
    const b = fixture("x86_64/prog");
    b[4] = 3;
    expectError(() => parse(b), UnsupportedElfError, /unknown ELF class 3/);
    const c = fixture("x86_64/prog");
    c[5] = 0;
    expectError(() => parse(c), UnsupportedElfError, /data encoding 0/);
  });

  it("truncated inside the ELF header and inside the program headers", () => {
    const b = fixture("x86_64/prog");
    expectError(() => parse(b.slice(0, 10)), TruncatedError, /ELF identification/);
    expectError(() => parse(b.slice(0, 40)), TruncatedError, /ELF header/);
    const e = expectError(() => parse(b.slice(0, 100)).programHeaders, TruncatedError, /program header table .* past the end/);
    expect(e.offset).toBe(64);
  });

  it("offsets past the end of the file, even above 2^53", () => {
    const b = fixture("x86_64/prog");
    new DataView(b.buffer).setBigUint64(32, 0xfffffffffff0n, true); // e_phoff
    expectError(() => parse(b).programHeaders, TruncatedError, /program header table .* at 0xfffffffffff0/);
    new DataView(b.buffer).setBigUint64(32, 0xfffffffffffffff0n, true);
    expectError(() => parse(b).programHeaders, TruncatedError, /past the end/);
  });

  it("counts that cannot fit in the file", () => {
    const b = fixture("x86_64/libvers.so.1");
    setU32(b, dynValueOffset(b, DT_VERNEEDNUM), 0x7fffffff);
    expectError(() => parse(b).versionRequirements, MalformedError, /DT_VERNEEDNUM count 2147483647 cannot fit/);
    const c = fixture("x86_64/libvers.so.1");
    setU32(c, dynValueOffset(c, DT_STRSZ), 0xfffffff0);
    expectError(() => parse(c).dynamic, TruncatedError, /DT_STRSZ .* exceeds the file size/);
  });

  it("a loop in the version definition chain (32-bit wrap-around)", () => {
    const b = fixture("i386/libvers.so.1");
    const elf = parse(b);
    const first = elf.addressToOffset(elf.dynamicValue(DT_VERDEF)!, VERDEF_SIZE, "verdef");
    const defs = elf.versionDefinitions;
    expect(defs.length).toBe(3);
    // The second entry's vd_next steps back to the first: 2^32 - distance, as a 32-bit loader adds it.
    const second = defs[1]!.offset;
    setU32(b, second + 16, 2 ** 32 - (second - first));
    const e = expectError(() => parse(b).versionDefinitions, MalformedError, /verdef chain loops back/);
    expect(e.offset).toBe(first);
  });

  it("a version chain that ends before its count", () => {
    const b = fixture("x86_64/libvers.so.1");
    const elf = parse(b);
    setU32(b, elf.versionDefinitions[0]!.offset + 16, 0);
    expectError(() => parse(b).versionDefinitions, MalformedError, /verdef chain ends after 1 of 3/);
  });

  it("a string table without a terminating NUL", () => {
    const b = fixture("x86_64/libvers.so.1");
    const elf = parse(b);
    const strtab = elf.addressToOffset(elf.dynamicValue(DT_STRTAB)!, 1, "strtab");
    const size = Number(elf.dynamicValue(DT_STRSZ)!);
    expect(b[strtab + size - 1]).toBe(0);
    b[strtab + size - 1] = 0x41;
    const e = expectError(() => readEverything(new BufferSource(b)), MalformedError, /no terminating NUL/);
    expect(e.offset).toBeGreaterThanOrEqual(strtab);
    expect(e.offset).toBeLessThan(strtab + size);
  });

  it("a PT_INTERP path without a terminating NUL", () => {
    const b = fixture("x86_64/prog");
    const p = parse(b).programHeaders.find((h) => h.p_type === PT_INTERP)!;
    const end = Number(p.p_offset + p.p_filesz) - 1;
    b[end] = 0x41;
    expectError(() => parse(b).interpreter, MalformedError, /PT_INTERP path has no terminating NUL/);
  });

  it("a string offset past the end of the string table", () => {
    const b = fixture("x86_64/prog");
    const elf = parse(b);
    const i = elf.dynamic!.entries.findIndex((e) => e.d_tag === 1n); // DT_NEEDED
    setU32(b, elf.dynamic!.offset + i * 16 + 8, 0x100000);
    expectError(() => parse(b).dynamic, MalformedError, /dynamic string table offset 1048576 is past its end/);
  });
});
