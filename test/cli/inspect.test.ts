import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dir } from "tmp-promise";
import { describe, expect, it } from "vitest";
import { abilink } from "../support/cli.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;

describe("abilink inspect", () => {
  it("--json: one document with the documented fields", async () => {
    const r = await abilink(["inspect", "--json", fx("aarch64/prog")]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    for (const k of ["path", "class", "endian", "machine", "type", "interpreter", "soname", "needed", "rpath", "runpath", "defined", "undefined"]) {
      expect(doc).toHaveProperty(k);
    }
    expect(doc).toMatchObject({ class: 64, endian: "little", machine: "aarch64", type: "DYN", interpreter: "/lib/ld-linux-aarch64.so.1", runpath: ["$ORIGIN"] });
    const ref = doc.undefined.find((u: { name: string; version: string }) => u.name === "vers_compute" && u.version === "VERS_2.0");
    expect(ref).toEqual({ name: "vers_compute", version: "VERS_2.0", library: "libvers.so.1", weak: false, type: "FUNC" });
  });

  it("--json gives one line per file; bad files give one stderr line each and exit 1", async () => {
    const r = await abilink(["inspect", "--json", fx("ppc64/libvers.so.1"), "/etc/hostname", "/nonexistent/x", fx("s390x/prog")]);
    expect(r.code).toBe(1);
    const docs = r.stdout.split("\n").map((l) => JSON.parse(l));
    expect(docs.map((d: { machine: string }) => d.machine)).toEqual(["ppc64", "s390x"]);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^abilink: \/etc\/hostname: not an ELF file/);
    expect(lines[1]).toBe("abilink: /nonexistent/x: no such file or directory");
  });

  it("text report names versions the way readelf does", async () => {
    const r = await abilink(["inspect", fx("x86_64/libvers.so.1")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/soname\s+libvers\.so\.1/);
    expect(r.stdout).toMatch(/vers_compute@VERS_1\.0\n/);
    expect(r.stdout).toMatch(/vers_compute@@VERS_2\.0\n/);
    expect(r.stdout).toMatch(/PROTECTED .* vers_protected@@VERS_1\.0/);
  });

  it("a truncated ELF file is reported in one line with the offset, not a crash", async () => {
    const d = await dir({ unsafeCleanup: true });
    try {
      const cut = join(d.path, "cut");
      writeFileSync(cut, readFileSync(fx("x86_64/prog")).subarray(0, 100));
      const r = await abilink(["inspect", cut]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      // 13 program headers of 56 bytes each, per readelf -h.
      expect(r.stderr).toBe(`abilink: ${cut}: program header table (728 bytes at 0x40) extends past the end of the file (100 bytes) (at offset 0x40)`);
    } finally {
      await d.cleanup();
    }
  });
});

describe("abilink CLI conventions", () => {
  it("--help lists the commands with examples; --version prints the version", async () => {
    const h = await abilink(["--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/inspect/);
    expect(h.stdout).toMatch(/Examples:/);
    for (const cmd of ["inspect", "scan"]) {
      const c = await abilink([cmd, "--help"]);
      expect(c.code).toBe(0);
      expect(c.stdout).toMatch(/Examples:\n  abilink /);
      expect(c.stdout).toMatch(/Exit status:/);
    }
    const v = await abilink(["--version"]);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("usage errors exit 2", async () => {
    expect((await abilink(["inspect"])).code).toBe(2);
    expect((await abilink(["frobnicate"])).code).toBe(2);
    expect((await abilink(["scan", "--jobs", "0", "/tmp"])).code).toBe(2);
  });
});
