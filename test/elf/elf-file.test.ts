import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BufferSource, ElfFile, machineName } from "../../src/elf/index.js";
import { inspectElf } from "../../src/inspect/summary.js";

const path = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const open = (p: string) => ElfFile.parse(new BufferSource(new Uint8Array(readFileSync(path(p)))));
const inspect = (p: string) => inspectElf(open(p), p);

// What testdata/src/libvers.c, libvers.map and prog.c declare, per architecture.
const arches = [
  { arch: "x86_64", class: 64, endian: "little", machine: "x86_64", libc: true },
  { arch: "x86_64-musl", class: 64, endian: "little", machine: "x86_64", libc: false },
  { arch: "i386", class: 32, endian: "little", machine: "i386", libc: true },
  { arch: "armhf", class: 32, endian: "little", machine: "arm", libc: true },
  { arch: "aarch64", class: 64, endian: "little", machine: "aarch64", libc: true },
  { arch: "riscv64", class: 64, endian: "little", machine: "riscv", libc: true },
  { arch: "ppc64", class: 64, endian: "big", machine: "ppc64", libc: true },
  { arch: "s390x", class: 64, endian: "big", machine: "s390x", libc: true },
] as const;

describe.each(arches)("$arch fixtures", (a) => {
  it("library: header facts, SONAME, version definitions", () => {
    const r = inspect(`${a.arch}/libvers.so.1`);
    expect([r.class, r.endian, r.machine, r.type]).toEqual([a.class, a.endian, a.machine, "DYN"]);
    expect(r.soname).toBe("libvers.so.1");
    expect(r.interpreter).toBeNull();
    const defs = r.versions.defined;
    expect(defs.find((d) => d.base)?.name).toBe("libvers.so.1");
    expect(defs.find((d) => d.name === "VERS_2.0")?.parents).toEqual(["VERS_1.0"]);
    expect(defs.find((d) => d.name === "VERS_1.0")?.parents).toEqual([]);
  });

  it("library: versioned definitions with their types, bindings and visibility", () => {
    const r = inspect(`${a.arch}/libvers.so.1`);
    const find = (name: string, version?: string) =>
      r.defined.filter((d) => d.name === name && (version === undefined || d.version === version));
    expect(find("vers_compute").map((d) => `${d.default ? "@@" : "@"}${d.version}`).sort()).toEqual(["@@VERS_2.0", "@VERS_1.0"]);
    expect(find("vers_tls")[0]).toMatchObject({ type: "TLS", version: "VERS_1.0", default: true, size: 4 });
    expect(find("vers_protected")[0]).toMatchObject({ visibility: "PROTECTED", type: "FUNC" });
    expect(find("vers_weak")[0]).toMatchObject({ bind: "WEAK", type: "FUNC" });
    expect(find("vers_counter")[0]).toMatchObject({ type: "OBJECT", size: 16, bind: "GLOBAL" });
    expect(find("vers_table")[0]).toMatchObject({ type: "OBJECT", size: 16 });
    expect(find("vers_tls_get")[0]).toMatchObject({ version: "VERS_2.0", default: true });
    if (a.libc) {
      const puts = r.undefined.find((u) => u.name === "puts")!;
      expect(puts.version).toMatch(/^GLIBC_2\./);
      expect(puts.library).toBe("libc.so.6");
    }
  });

  it("programs: NEEDED, RUNPATH vs RPATH, versioned references to both versions", () => {
    const p = inspect(`${a.arch}/prog`);
    expect(p.needed).toContain("libvers.so.1");
    expect(p.runpath).toEqual(["$ORIGIN"]);
    expect(p.rpath).toEqual([]);
    expect(p.interpreter).toMatch(/^\/lib/);
    const refs = p.undefined.filter((u) => u.name === "vers_compute");
    expect(refs.map((u) => [u.version, u.library]).sort()).toEqual([
      ["VERS_1.0", "libvers.so.1"],
      ["VERS_2.0", "libvers.so.1"],
    ]);
    const r = inspect(`${a.arch}/prog-rpath`);
    expect([r.rpath, r.runpath]).toEqual([["$ORIGIN"], []]);
    expect(inspect(`${a.arch}/prog-nopie`).type).toBe("EXEC");
    expect(p.versions.required.find((x) => x.library === "libvers.so.1")?.versions.sort()).toEqual(["VERS_1.0", "VERS_2.0"]);
  });

  it("a stripped library reads the same dynamic symbols", () => {
    expect(inspect(`${a.arch}/libvers-stripped.so.1`).defined).toEqual(inspect(`${a.arch}/libvers.so.1`).defined);
  });
});

describe("files without section headers", () => {
  it("read through PT_DYNAMIC alone: same dynamic facts and symbols (count from DT_GNU_HASH)", () => {
    const without = open("x86_64/libvers-nosections.so.1");
    expect(without.sectionsIfUsable()).toBeNull();
    const a = inspectElf(without, "x");
    const b = inspect("x86_64/libvers.so.1");
    expect({ ...a, path: "" }).toEqual({ ...b, path: "" });
  });

  it("bogus section headers are ignored with a warning", () => {
    const bytes = new Uint8Array(readFileSync(path("x86_64/libvers.so.1")));
    new DataView(bytes.buffer).setBigUint64(40, 0xffff_ffffn, true); // e_shoff past the end
    const elf = ElfFile.parse(new BufferSource(bytes));
    expect(inspectElf(elf, "x").defined).toEqual(inspect("x86_64/libvers.so.1").defined);
    expect(elf.warnings.join("\n")).toMatch(/section headers ignored/);
  });
});

describe("separate debug files", () => {
  it("an empty PT_INTERP (p_filesz 0) reads as no interpreter, with a warning", () => {
    const bytes = new Uint8Array(readFileSync(path("x86_64/prog")));
    const elf0 = ElfFile.parse(new BufferSource(bytes));
    const i = elf0.programHeaders.findIndex((p) => p.p_type === 3); // PT_INTERP
    const phoff = Number(elf0.header.e_phoff);
    new DataView(bytes.buffer).setBigUint64(phoff + i * 56 + 32, 0n, true); // p_filesz
    const elf = ElfFile.parse(new BufferSource(bytes));
    expect(elf.interpreter).toBeNull();
    expect(inspectElf(elf, "x").warnings).toEqual([expect.stringMatching(/PT_INTERP has no bytes in the file/)]);
  });
});

describe("names", () => {
  it("pass unknown machines through as numbers", () => {
    expect(machineName(62)).toBe("x86_64");
    expect([machineName(22, 64), machineName(22, 32)]).toEqual(["s390x", "s390"]);
    expect(machineName(0x4242)).toBe(0x4242);
  });
  it("musl programs use the musl loader and carry no libc versions", () => {
    const p = inspect("x86_64-musl/prog");
    expect(p.interpreter).toBe("/lib/ld-musl-x86_64.so.1");
    expect(p.undefined.filter((u) => u.version?.startsWith("GLIBC"))).toEqual([]);
  });
});

describe("extended numbering (gABI: counts that overflow the ELF header live in section 0)", () => {
  it("e_shnum = 0 and e_shstrndx = SHN_XINDEX read their values from section 0", () => {
    const bytes = new Uint8Array(readFileSync(path("x86_64/libvers.so.1")));
    const dv = new DataView(bytes.buffer);
    const shoff = Number(dv.getBigUint64(40, true));
    const shnum = dv.getUint16(60, true);
    const shstrndx = dv.getUint16(62, true);
    dv.setUint16(60, 0, true); // e_shnum
    dv.setUint16(62, 0xffff, true); // e_shstrndx = SHN_XINDEX
    dv.setBigUint64(shoff + 32, BigInt(shnum), true); // section 0 sh_size
    dv.setUint32(shoff + 40, shstrndx, true); // section 0 sh_link
    const elf = ElfFile.parse(new BufferSource(bytes));
    expect(elf.shnum).toBe(shnum);
    expect(elf.shstrndx).toBe(shstrndx);
    expect(elf.sectionHeaders.map((s) => s.name)).toContain(".gnu.version_d");
    expect(elf.warnings).toEqual([]);
  });

  it("e_phnum = PN_XNUM reads the program header count from section 0's sh_info", () => {
    const bytes = new Uint8Array(readFileSync(path("x86_64/prog")));
    const dv = new DataView(bytes.buffer);
    const shoff = Number(dv.getBigUint64(40, true));
    const phnum = dv.getUint16(56, true);
    dv.setUint16(56, 0xffff, true);
    dv.setUint32(shoff + 44, phnum, true);
    const elf = ElfFile.parse(new BufferSource(bytes));
    expect(elf.programHeaders).toHaveLength(phnum);
    expect(elf.interpreter).toBe("/lib64/ld-linux-x86-64.so.2");
  });
});
