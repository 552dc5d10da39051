import { readFileSync, writeFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { execa } from "execa";
import { abilink } from "../support/cli.js";
import { withTmpDir } from "../support/tmp.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
let tmp = "";
withTmpDir((path) => (tmp = path));

describe("abilink abi / hash", () => {
  it("abi -o writes the manifest (and nothing else in the directory); abi on a manifest reprints it canonically", async () => {
    const out = join(tmp, "libvers.abi");
    expect((await abilink(["abi", fx("riscv64/libvers.so.1"), "-o", out])).code).toBe(0);
    expect(readdirSync(tmp)).toEqual(["libvers.abi"]);
    const text = readFileSync(out, "utf8");
    expect(text.split("\n").slice(0, 5)).toEqual(["abilink-abi 2", "soname libvers.so.1", "class 64", "data little", "machine riscv"]);
    expect(text).toContain("symbol vers_compute@VERS_1.0 FUNC GLOBAL\n");
    // Facts in reverse order, a comment and a blank line: still the same manifest.
    const facts = text.trimEnd().split("\n").slice(1).reverse();
    writeFileSync(join(tmp, "edited.abi"), ["# hand-edited", "abilink-abi 2", "", ...facts].join("\n") + "\n");
    const r = await abilink(["abi", join(tmp, "edited.abi")]);
    expect(r.code).toBe(0);
    expect(r.stdout + "\n").toBe(text);
  });

  it("a malformed manifest is reported with its line number, the file named once", async () => {
    const bad = join(tmp, "bad.abi");
    writeFileSync(bad, "abilink-abi 2\nclass 64\ndata little\nmachine x86_64\nsymbol f@NOPE FUNC GLOBAL\n");
    for (const args of [["hash", bad], ["abi", bad], ["diff", bad, fx("x86_64/libvers.so.1")]]) {
      const r = await abilink(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`abilink: ${bad}:5: symbol "f@NOPE" uses version "NOPE", which no "version" line defines`);
    }
  });

  it("hash prints `HASH  PATH`, equal for a library and its manifest, different across interfaces", async () => {
    const abiFile = join(tmp, "v.abi");
    await abilink(["abi", fx("s390x/libvers.so.1"), "-o", abiFile]);
    const r = await abilink(["hash", fx("s390x/libvers.so.1"), abiFile, fx("x86_64/libvers.so.1"), "/etc/hostname"]);
    expect(r.code).toBe(1);
    const lines = r.stdout.split("\n");
    expect(lines).toHaveLength(3);
    const [h1, h2, h3] = lines.map((l) => l.split("  ")[0]);
    expect(h1).toMatch(/^abi2-[0-9a-z]{32}$/);
    expect(h2).toBe(h1);
    expect(h3).not.toBe(h1); // another machine and class
    expect(r.stderr).toMatch(/\/etc\/hostname: neither an ELF file nor an abilink manifest/);
    const j = JSON.parse((await abilink(["hash", "--json", abiFile])).stdout);
    expect(j).toEqual({ path: abiFile, hash: h1 });
  });

  it("hash gives the same output, in input order, whatever the number of threads", async () => {
    const arches = ["x86_64", "i386", "aarch64", "armhf", "riscv64", "ppc64", "s390x", "x86_64-musl"];
    const files = arches.flatMap((a) => ["libvers.so.1", "libvers-stripped.so.1", "prog"].map((f) => fx(`${a}/${f}`)));
    const inputs = [...files, ...files, ...files]; // 72 inputs: past the inline start, into the workers
    const one = await abilink(["hash", "--jobs", "1", ...inputs]);
    expect(one.code).toBe(0);
    expect(one.stdout.split("\n").map((l) => l.split("  ")[1])).toEqual(inputs);
    for (const jobs of ["2", "3"]) expect((await abilink(["hash", "--jobs", jobs, ...inputs])).stdout).toBe(one.stdout);
  });

  it("the same library built for glibc and for musl has the same interface", async () => {
    const r = await abilink(["diff", fx("x86_64/libvers.so.1"), fx("x86_64-musl/libvers.so.1")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/no ABI change/);
  });

  it("a program gets a warning (its manifest is what it exports to plugins); an object file is refused", async () => {
    for (const cmd of ["abi", "hash"]) {
      const r = await abilink([cmd, "/usr/bin/ls"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("abilink: /usr/bin/ls: warning: is a program, not a shared library (no SONAME): its manifest lists only what it exports to plugins");
    }
    const lib = await abilink(["abi", fx("x86_64/libvers.so.1")]);
    expect(lib.stderr).toBe("");
    const obj = join(tmp, "copy-lib.o");
    await execa("gcc", ["-c", "-o", obj, new URL("../../testdata/compat/copy-lib.c", import.meta.url).pathname]);
    for (const cmd of ["abi", "hash"]) {
      const r = await abilink([cmd, obj]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`abilink: ${obj}: is a relocatable object (.o), not a linked library: link it into a shared library first`);
      expect(r.stdout).toBe("");
    }
  });

  it("alias groups as readelf shows them: members at one address name the leader, the leader names no one", async () => {
    const r = await abilink(["abi", "/usr/bin/ls"]);
    const aliases = new Map([...r.stdout.matchAll(/^symbol (\S+) OBJECT .*alias=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(aliases.size).toBeGreaterThan(0);
    const { stdout } = await execa("readelf", ["-W", "--dyn-syms", "/usr/bin/ls"]);
    const value = new Map<string, string>();
    for (const line of stdout.split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 8 && f[3] === "OBJECT" && f[6] !== "UND") value.set(f[7]!.replace(/@.*/, ""), f[1]!);
    }
    for (const [name, leader] of aliases) {
      expect(value.get(name), name).toBe(value.get(leader));
      expect(aliases.has(leader), `${leader} is a leader`).toBe(false);
    }
  });
});
